/*
 * A deliberate data race, NOT part of the library or of the test suite: .ci/hardening.sh
 * builds it with ThreadSanitizer and runs it with Archer, and requires a "data race" report
 * and a failing exit code, proving that the TSan + LLVM libomp + Archer setup that checks the
 * library would see a real race. The same loop with an atomic update must pass (no false
 * positive from the OpenMP runtime itself).
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    int racy = argc > 1 && argv[1][0] == 'r';
    long counter = 0;
#pragma omp parallel num_threads(2)
    for (int i = 0; i < 10000; i++) {
        if (racy) {
            counter++; /* unsynchronised read-modify-write from two threads */
        } else {
#pragma omp atomic
            counter++;
        }
    }
    printf("%s: counter = %ld (threads: %d)\n", racy ? "racy" : "atomic", counter,
           omp_get_max_threads());
    return 0;
}
