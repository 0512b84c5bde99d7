/* The importer in interpreters with their own GIL (check_own_gil.c). */
#ifndef CHECK_OWN_GIL_H
#define CHECK_OWN_GIL_H

#include <check.h>

/* Its test case, with the suite's fixture; NULL before Python 3.12. */
TCase *own_gil_tcase(void (*setup)(void), void (*teardown)(void));

#endif
