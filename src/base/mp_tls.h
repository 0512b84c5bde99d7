/* Thread-local variables of mod_python. */
#ifndef MP_TLS_H
#define MP_TLS_H

/* initial-exec: they are read several times per request, and the few
 * bytes they take fit the surplus that glibc's static TLS block keeps for
 * dlopen()ed objects; the default model would call __tls_get_addr() at
 * every access. */
#define MP_THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))

#endif
