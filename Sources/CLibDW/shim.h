#include <elfutils/libdwfl.h>
#include <elfutils/libdw.h>
#include <dwarf.h>
#include <gelf.h>
#include <stddef.h>

/* The C++ ABI's demangler (libstdc++), for C++ names met in debug information. */
char *__cxa_demangle(const char *mangled_name, char *output_buffer, size_t *length, int *status);
