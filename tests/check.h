/* A minimal test harness: CHECK records a failure and goes on; the test's
 * main returns check_report(), which prints "N passed, N failed". */
#ifndef SN_TEST_CHECK_H
#define SN_TEST_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_pass_count, check_fail_count;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_pass_count++;                                                                    \
        } else {                                                                                   \
            check_fail_count++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

/* |a - b| <= tol * max(1, |b|) */
#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double check_a_ = (a), check_b_ = (b);                                                     \
        double check_s_ = fabs(check_b_) > 1.0 ? fabs(check_b_) : 1.0;                             \
        if (fabs(check_a_ - check_b_) <= (tol)*check_s_) {                                         \
            check_pass_count++;                                                                    \
        } else {                                                                                   \
            check_fail_count++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, expected %.9g (tol %g)\n",       \
                    __FILE__, __LINE__, #a, check_a_, check_b_, (double)(tol));                    \
        }                                                                                          \
    } while (0)

static inline int check_report(void) {
    printf("%d passed, %d failed\n", check_pass_count, check_fail_count);
    return check_fail_count ? 1 : 0;
}

#endif
