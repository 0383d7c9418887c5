/*
 * Bad-input catalogue test: every row of docs/errors.md is a case of cases.c (same id, status
 * and message, checked by parsing the document), and every case returns its status, sets its
 * exact message and leaves every byte of every operand untouched.
 *
 * Usage: test_errors [path/to/docs/errors.md]
 */
#include "errfx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *doc_path = SOFTCE_ERRORS_DOC;

/* ---- one case ------------------------------------------------------------------------- */

static void run_case(void **state) {
    const ef_case *k = *state;
    ef_arena *a = malloc(sizeof *a), *before = malloc(sizeof *a);
    assert_non_null(a);
    assert_non_null(before);
    ef_arena_fill(a);
    ef_call c;
    ef_base_call(&c, k->op, a);
    k->breaks(&c, a);
    memcpy(before, a, sizeof *a);
    for (int round = 0; round < 2; round++) { /* the same answer twice */
        softce_status st = ef_run(&c, a);
        assert_string_equal(softce_status_name(st), softce_status_name(k->status));
        assert_string_equal(softce_last_error(), k->message);
        for (size_t i = 0; i < sizeof *a; i++)
            if (((unsigned char *)a)[i] != ((unsigned char *)before)[i])
                fail_msg("%s wrote byte %zu of the arena", k->id, i);
    }
    free(before);
    free(a);
}

/* The unbroken base calls succeed, write their outputs and clear the last error. */
static void base_calls_succeed(void **state) {
    (void)state;
    static const ef_op ops[] = {EF_FORWARD, EF_BACKWARD, EF_FUSED, EF_LOG_SOFTMAX};
    ef_arena *a = malloc(sizeof *a), *before = malloc(sizeof *a);
    assert_non_null(a);
    assert_non_null(before);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        ef_arena_fill(a);
        memcpy(before, a, sizeof *a);
        ef_call c;
        ef_base_call(&c, ops[i], a);
        assert_int_equal(ef_run(&c, a), SOFTCE_OK);
        assert_string_equal(softce_last_error(), "");
        size_t off = ops[i] == EF_FORWARD ? offsetof(ef_arena, loss0) : offsetof(ef_arena, gx);
        assert_memory_not_equal((char *)a + off, (char *)before + off, sizeof(float));
    }
    ef_call c;
    ef_base_call(&c, EF_TENSOR_INIT, a);
    assert_int_equal(ef_run(&c, a), SOFTCE_OK);
    assert_int_equal(a->tinit.struct_size, sizeof(softce_tensor));
    free(before);
    free(a);
}

/* ---- the document and the table agree ------------------------------------------------ */

typedef struct doc_row {
    char id[8], status[48], message[200];
} doc_row;

static void trim(char *s, const char *strip) {
    size_t n = strlen(s), b = 0;
    while (n > 0 && strchr(strip, s[n - 1]))
        s[--n] = '\0';
    while (s[b] && strchr(strip, s[b]))
        b++;
    memmove(s, s + b, n - b + 1);
}

/* "| E01 | what | call | `STATUS` | `message` |" */
static int parse_row(const char *line, doc_row *r) {
    if (strncmp(line, "| E", 3) != 0)
        return 0;
    char buf[512], *col[6];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", line + 1);
    for (char *p = buf; n < 6 && p; n++) {
        col[n] = p;
        p = strchr(p, '|');
        if (p)
            *p++ = '\0';
    }
    if (n < 5)
        return 0;
    snprintf(r->id, sizeof r->id, "%.7s", col[0]);
    snprintf(r->status, sizeof r->status, "%.47s", col[3]);
    snprintf(r->message, sizeof r->message, "%.199s", col[4]);
    trim(r->id, " ");
    trim(r->status, " `");
    trim(r->message, " `\n");
    return 1;
}

static void doc_matches_table(void **state) {
    (void)state;
    FILE *f = fopen(doc_path, "r");
    if (!f)
        fail_msg("cannot open %s", doc_path);
    char line[512];
    size_t rows = 0;
    int *seen = calloc(ef_num_cases, sizeof *seen);
    assert_non_null(seen);
    while (fgets(line, sizeof line, f)) {
        doc_row r;
        if (!parse_row(line, &r))
            continue;
        rows++;
        size_t i = 0;
        while (i < ef_num_cases && strcmp(ef_cases[i].id, r.id) != 0)
            i++;
        if (i == ef_num_cases)
            fail_msg("%s is in the document but has no test", r.id);
        if (seen[i]++)
            fail_msg("%s is twice in the document", r.id);
        if (strcmp(r.status, softce_status_name(ef_cases[i].status)) != 0)
            fail_msg("%s: the document says %s", r.id, r.status);
        if (strcmp(r.message, ef_cases[i].message) != 0)
            fail_msg("%s: the document says '%s', the test '%s'", r.id, r.message,
                     ef_cases[i].message);
    }
    fclose(f);
    for (size_t i = 0; i < ef_num_cases; i++)
        if (!seen[i])
            fail_msg("%s is tested but not in the document", ef_cases[i].id);
    free(seen);
    assert_int_equal(rows, ef_num_cases);
    assert_true(rows >= 30);
}

int main(int argc, char **argv) {
    if (argc > 1)
        doc_path = argv[1];
    size_t n = ef_num_cases + 2;
    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    char(*names)[64] = calloc(n, sizeof *names);
    if (!tests || !names)
        return 1;
    tests[0] = (struct CMUnitTest)cmocka_unit_test(doc_matches_table);
    tests[1] = (struct CMUnitTest)cmocka_unit_test(base_calls_succeed);
    for (size_t i = 0; i < ef_num_cases; i++) {
        snprintf(names[i + 2], sizeof names[i + 2], "%s_%s", ef_cases[i].id,
                 softce_status_name(ef_cases[i].status));
        tests[i + 2] = (struct CMUnitTest){names[i + 2], run_case, NULL, NULL,
                                           (void *)(uintptr_t)&ef_cases[i]};
    }
    int failed = _cmocka_run_group_tests("errors", tests, n, NULL, NULL);
    free(names);
    free(tests);
    return failed;
}
