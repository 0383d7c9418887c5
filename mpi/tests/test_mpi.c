/*
 * libsoftce_mpi on P ranks (run with mpirun -np 2 and -np 3): seeded random problems, every
 * option, the class axis cut into P uneven shards (one per rank). Each rank compares its loss,
 * lse and the gradient of its shard with the one-process library (softce_forward_backward,
 * softce_forward, softce_backward) on the whole problem. Exit 0 on success on every rank.
 */
#include "shard_problem.h"

#include <softce/softce_mpi.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASES 400

/* max |a - b| over the shard's slice of an (N, C, D) gradient, relative to max(|b|) over the
   whole gradient (at least GRAD_FLOOR: see tests/shard/test_shard.c). */
static double shard_normwise(const sp_problem *pb, const double *a, const double *b, int64_t c0,
                             int64_t Cs) {
    double m = 1e-2, d = 0.0;
    for (int64_t i = 0; i < pb->N * pb->C * pb->D; i++) {
        int64_t c = i / pb->D % pb->C;
        if (isfinite(b[i]) && fabs(b[i]) > m)
            m = fabs(b[i]);
        if (c < c0 || c >= c0 + Cs)
            continue;
        if ((a[i] != a[i]) != (b[i] != b[i]))
            return INFINITY;
        if (a[i] == a[i] && a[i] != b[i] && fabs(a[i] - b[i]) > d)
            d = fabs(a[i] - b[i]);
    }
    return d / m;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* worst[0..4]: f32 loss, lse, grad vs backward, grad vs forward_backward; [5..9] f64 */
    double worst[10] = {0}, all[10];
    int failures = 0, cases = 0;
    for (uint64_t seed = 1; seed <= CASES * 3 && cases < CASES; seed++) {
        sp_problem pb;
        sp_random(&pb, seed, 1);
        if (pb.C < size) {
            sp_free(&pb);
            continue;
        }
        cases++;
        sp_cut(&pb, seed, size); /* uneven: random cut points, the same on every rank */
        const int64_t c0 = pb.cut[rank], Cs = pb.cut[rank + 1] - c0;
        sp_result ref, got;
        sp_result_alloc(&pb, &ref);
        sp_result_alloc(&pb, &got);
        softce_status sr = sp_reference(&pb, &ref);
        softce_tensor tw, tp;
        softce_options o = sp_shard_options(&pb, c0, Cs, &tw, &tp);
        o.out_lse = NULL, o.out_argmax = NULL, o.out_correct = NULL, o.out_z_loss = NULL;
        softce_tensor x = sp_logits_view(&pb, pb.x, pb.dtype, c0, Cs);
        softce_tensor tg = sp_target_view(&pb, c0, Cs);
        softce_tensor loss = sp_loss_view(&pb, got.loss), gl = sp_loss_view(&pb, pb.gl);
        softce_tensor loss2 = sp_loss_view(&pb, got.loss_fb);
        softce_tensor lse = sp_elem_view(&pb, got.lse, SOFTCE_DTYPE_F64);
        softce_tensor gx = sp_logits_view(&pb, got.gx, SOFTCE_DTYPE_F64, c0, Cs);
        softce_status s1 = softce_mpi_forward_backward(&o, &x, &tg, c0, pb.C,
                                                       pb.use_gl ? &gl : NULL, &loss, &gx,
                                                       MPI_COMM_WORLD);
        softce_status s2 = softce_mpi_forward(&o, &x, &tg, c0, pb.C, &loss2, &lse, MPI_COMM_WORLD);
        if (sr || s1 || s2) {
            fprintf(stderr, "rank %d: %s: status %s / %s / %s: %s %s\n", rank, pb.desc,
                    softce_status_name(sr), softce_status_name(s1), softce_status_name(s2),
                    softce_last_error(), softce_mpi_last_error());
            failures++;
        } else {
            const int none = pb.o.reduction == SOFTCE_REDUCTION_NONE, f64 = pb.dtype == SOFTCE_DTYPE_F64;
            const int64_t nl = none ? pb.E : 1;
            double d[5];
            /* losses relative to max(|loss|, 0.1) with the SIMD kernels: tests/shard/test_shard.c */
            const double lf = strcmp(softce_isa_name(), "scalar") ? 0.1 : 0.0;
            d[0] = none ? sp_normwise_floor(got.loss, ref.loss_fb, nl, lf)
                        : sp_relative_floor(got.loss[0], ref.loss_fb[0], lf);
            d[1] = none ? sp_normwise_floor(got.loss_fb, ref.loss, nl, lf)
                        : sp_relative_floor(got.loss_fb[0], ref.loss[0], lf);
            d[2] = sp_normwise(got.lse, ref.lse, pb.E);
            d[3] = shard_normwise(&pb, got.gx, ref.gx, c0, Cs);
            d[4] = shard_normwise(&pb, got.gx, ref.gx_fb, c0, Cs);
            const double tol = f64 ? 1e-12 : 1e-6;
            for (int i = 0; i < 5; i++) {
                double t = i == 4 && !f64 ? 1e-5 : tol; /* fused vs unfused rounding (f32) */
                if (!(d[i] <= t)) {
                    fprintf(stderr, "rank %d: %s: difference %d = %.3g > %g\n", rank, pb.desc,
                            i, d[i], t);
                    failures++;
                }
                if (d[i] > worst[f64 * 5 + i])
                    worst[f64 * 5 + i] = d[i];
            }
        }
        sp_result_free(&ref);
        sp_result_free(&got);
        sp_free(&pb);
    }
    /* an invalid argument on one rank: every rank fails, nobody hangs */
    {
        sp_problem pb;
        uint64_t seed = 5;
        do {
            sp_random(&pb, seed++, 1);
            if (pb.C >= size && pb.E > 0)
                break;
            sp_free(&pb);
        } while (1);
        sp_cut(&pb, 1, size);
        const int64_t c0 = pb.cut[rank], Cs = pb.cut[rank + 1] - c0;
        softce_tensor tw, tp, x = sp_logits_view(&pb, pb.x, pb.dtype, c0, Cs);
        softce_options o = sp_shard_options(&pb, c0, Cs, &tw, &tp);
        o.out_lse = o.out_argmax = o.out_correct = o.out_z_loss = NULL;
        softce_tensor tg = sp_target_view(&pb, c0, Cs);
        double l[64];
        softce_tensor loss = sp_loss_view(&pb, l);
        softce_status st = softce_mpi_forward(&o, &x, &tg, rank == 1 ? pb.C : c0, pb.C, &loss,
                                              NULL, MPI_COMM_WORLD);
        if (st == SOFTCE_OK || (rank != 1 && !strstr(softce_mpi_last_error(), "rank 1"))) {
            fprintf(stderr, "rank %d: a bad class_offset on rank 1 gave %s \"%s\"\n", rank,
                    softce_status_name(st), softce_mpi_last_error());
            failures++;
        }
        sp_free(&pb);
    }
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Reduce(worst, all, 10, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        for (int f = 0; f < 2; f++)
            printf("mpi np=%d [%s]: (of %d cases) max relative difference: loss vs forward_backward "
                   "%.3g, loss (forward) vs forward %.3g, lse %.3g, shard grad vs backward "
                   "%.3g, vs forward_backward %.3g\n",
                   size, f ? "f64" : "f32/bf16", cases, all[f * 5], all[f * 5 + 1],
                   all[f * 5 + 2], all[f * 5 + 3], all[f * 5 + 4]);
        printf("mpi np=%d: %s (%d failures)\n", size, total ? "FAILED" : "passed", total);
    }
    MPI_Finalize();
    return total ? 1 : 0;
}
