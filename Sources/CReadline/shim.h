#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>

/* Setters for readline's globals: Swift 6 does not allow touching mutable C globals directly. */
static inline void osh_rl_set_completion(rl_completion_func_t *f) {
    rl_attempted_completion_function = f;
}
static inline void osh_rl_set_name(const char *name) { rl_readline_name = name; }
/* The line typed so far (for completing by the words before the cursor). */
static inline const char *osh_rl_line_buffer(void) { return rl_line_buffer; }
/* Nonzero: readline does not fall back to file name completion for this attempt. */
static inline void osh_rl_set_attempted_completion_over(int over) { rl_attempted_completion_over = over; }
