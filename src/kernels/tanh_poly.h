/*
 * The f32 polynomials of the vector tanh (tanh_avx2.h, tanh_avx512.h). The polynomial class (rows
 * whose every |a| < 0.75, row_simd.inc: cap_class), for |a| < 0.75,
 * tanh a = a + a u P(u), u = a^2, P(u) = P0 + P1 u + ... + P4 u^4, a minimax fit (Lawson's
 * iteratively reweighted least squares, 40 digits, mpmath) of (tanh a - a) / a^3 weighted for
 * the relative error of tanh a, made for this library: fit error 0.55 2^-24. The softcap folds
 * (scale / cap)^(2i+2) into P_i (row_simd.inc: cap_coef_of).
 */
#ifndef SOFTCE_TANH_POLY_H
#define SOFTCE_TANH_POLY_H

#define SOFTCE_TANH_F32_P0 -0.333330684
#define SOFTCE_TANH_F32_P1 0.133265210
#define SOFTCE_TANH_F32_P2 -0.0533902503
#define SOFTCE_TANH_F32_P3 0.0196648967
#define SOFTCE_TANH_F32_P4 -0.00476947825
/* The short polynomial for |a| <= 0.3 (rows whose every value is that small, row_simd.inc):
   P of degree 2, the same weighting fitted on [0, 0.3] by iteratively reweighted least squares
   in double, fit error 0.37 2^-24 (0.71 ulp for tanh in a float emulation). */
#define SOFTCE_TANH_F32_S0 -0.333330992332
#define SOFTCE_TANH_F32_S1 0.133164444536
#define SOFTCE_TANH_F32_S2 -0.050511092408
#define SOFTCE_TANH_F32_SHORT 0.09 /* u = a^2 up to which the short polynomial is used */
#define SOFTCE_TANH_F32_FAR 0.5625 /* u = a^2 from which the polynomial class ends (a >= 0.75) */
/* The long polynomial of the general vector tanh, for |a| < 1: P of degree 6, the same weighting
   fitted on [0, 1.02] by iteratively reweighted least squares in double, fit error 0.10 2^-24
   (1.11 ulp for tanh in a float emulation, the largest near a = 1). Above, the exp branch. */
#define SOFTCE_TANH_F32_L0 -0.333332857905
#define SOFTCE_TANH_F32_L1 0.133321401788
#define SOFTCE_TANH_F32_L2 -0.0538655173886
#define SOFTCE_TANH_F32_L3 0.0214411335173
#define SOFTCE_TANH_F32_L4 -0.00787327078306
#define SOFTCE_TANH_F32_L5 0.00224438050155
#define SOFTCE_TANH_F32_L6 -0.000341109178605
#define SOFTCE_TANH_F32_LONG_FAR 1.0 /* u = a^2 from which the exp branch is taken (a >= 1) */
#define SOFTCE_TANH_F32_TINY 0x1p-24 /* u up to which tanh a rounds to a (a <= 2^-12) */

#endif
