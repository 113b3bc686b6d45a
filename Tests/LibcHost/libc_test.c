/* Sources/Shared/libc.S (memcpy, memmove, memset, bzero, memcmp of the kernel and every user program) on
 * the host against the C library: 200,000 seeded random calls on one buffer, overlapping moves in both
 * directions included; the routines are assembled under other names (make libc-host-test). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *my_memcpy(void *, const void *, size_t);
void *my_memmove(void *, const void *, size_t);
void *my_memset(void *, int, size_t);
void my_bzero(void *, size_t);
int my_memcmp(const void *, const void *, size_t);
void my_heap_free(void *p) { (void)p; }

int main(void) {
    enum { size = 600 };
    unsigned char mine[size], theirs[size];
    long failures = 0, tests = 0;
    srand(1);
    for (int t = 0; t < 200000; t++) {
        for (int i = 0; i < size; i++) mine[i] = (unsigned char)rand();
        memcpy(theirs, mine, size);
        int n = rand() % 200, s = rand() % 300, d = rand() % 300, op = rand() % 5, v = rand();
        void *returned = NULL, *expected = mine + d;
        switch (op) {
        case 0: /* memcpy: only without overlap */
            if (abs(s - d) < n) { s = 0; d = 300; expected = mine + d; }
            returned = my_memcpy(mine + d, mine + s, n); memcpy(theirs + d, theirs + s, n); break;
        case 1: returned = my_memmove(mine + d, mine + s, n); memmove(theirs + d, theirs + s, n); break;
        case 2: returned = my_memset(mine + d, v, n); memset(theirs + d, v, n); break;
        case 3: my_bzero(mine + d, n); memset(theirs + d, 0, n); returned = expected; break;
        case 4: {
            int a = my_memcmp(mine + d, mine + s, n), b = memcmp(theirs + d, theirs + s, n);
            if ((a < 0) != (b < 0) || (a > 0) != (b > 0)) failures++;
            returned = expected; break;
        }
        }
        tests++;
        if (memcmp(mine, theirs, size) != 0 || returned != expected) {
            if (failures < 5) printf("FAIL op %d n %d source %d destination %d\n", op, n, s, d);
            failures++;
        }
    }
    printf("libc.S: %ld calls, %ld failures\n", tests, failures);
    return failures != 0;
}
