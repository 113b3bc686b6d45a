#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>

/* Setters for readline's globals: Swift 6 does not allow touching mutable C globals directly. */
static inline void osh_rl_set_completion(rl_completion_func_t *f) {
    rl_attempted_completion_function = f;
}
static inline void osh_rl_set_name(const char *name) { rl_readline_name = name; }
