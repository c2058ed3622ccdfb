/* test_linediff.c - the unified line diff (src/lib/core/linediff.c):
 * exact output for known cases, and for random texts a script that is
 * both right (applied to a it gives b) and shortest (the edit distance
 * an O(NM) table of the longest common subsequence says). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/core/err.h"
#include "lib/core/limits.h"
#include "lib/core/linediff.h"

static char *diff(const char *a, const char *b, unsigned ctx, size_t *edits)
{
	struct ch_buf out;

	ch_buf_init(&out, 1u << 20);
	assert_int_equal(ch_linediff(a, strlen(a), b, strlen(b), ctx, &out,
				     edits), CH_OK);
	if (ch_buf_len(&out) == 0)
		ch_buf_puts(&out, "");
	return ch_buf_take(&out);
}

static void expect(const char *a, const char *b, unsigned ctx,
		   const char *want)
{
	char *got = diff(a, b, ctx, NULL);

	assert_string_equal(got ? got : "", want);
	free(got);
}

static void test_known(void **state)
{
	(void)state;
	expect("", "", 3, "");
	expect("a\nb\n", "a\nb\n", 3, "");
	expect("a\nb\nc\n", "a\nB\nc\n", 3,
	       "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
	expect("", "x\n", 3, "@@ -0,0 +1 @@\n+x\n");
	expect("x\n", "", 3, "@@ -1 +0,0 @@\n-x\n");
	expect("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\n5\n6\n7\n8\n9\nX\n",
	       2, "@@ -8,2 +8,3 @@\n 8\n 9\n+X\n");
	/* two changes far apart: two hunks; near: one */
	expect("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "A\n2\n3\n4\n5\n6\n7\n8\nB\n",
	       1, "@@ -1,2 +1,2 @@\n-1\n+A\n 2\n@@ -8,2 +8,2 @@\n 8\n-9\n+B\n");
	expect("1\n2\n3\n4\n", "A\n2\n3\nB\n", 1,
	       "@@ -1,4 +1,4 @@\n-1\n+A\n 2\n 3\n-4\n+B\n");
	/* no newline at the end */
	expect("a\nb", "a\nb\n", 3,
	       "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
	/* the hub's configuration text: the changed leaf alone */
	expect("<system xmlns=\"urn:t\">\n  <hostname>r1</hostname>\n"
	       "</system>\n",
	       "<system xmlns=\"urn:t\">\n  <hostname>r2</hostname>\n"
	       "</system>\n", 3,
	       "@@ -1,3 +1,3 @@\n <system xmlns=\"urn:t\">\n-  <hostname>r1"
	       "</hostname>\n+  <hostname>r2</hostname>\n </system>\n");
}

/* The distance by the LCS table. */
static size_t distance(char **a, size_t n, char **b, size_t m)
{
	size_t *t = calloc((n + 1) * (m + 1), sizeof(*t)), r;

	assert_non_null(t);
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			size_t *c = &t[i * (m + 1) + j];

			if (strcmp(a[i - 1], b[j - 1]) == 0)
				*c = t[(i - 1) * (m + 1) + j - 1] + 1;
			else
				*c = t[(i - 1) * (m + 1) + j] >
				     t[i * (m + 1) + j - 1]
				     ? t[(i - 1) * (m + 1) + j]
				     : t[i * (m + 1) + j - 1];
		}
	r = n + m - 2 * t[n * (m + 1) + m];
	free(t);
	return r;
}

/* Applies a whole-file diff (context large enough for one hunk) to a:
 * the ' ' and '+' lines are b. */
static void check_applies(const char *d, const char *a, const char *b)
{
	char buf[4096], old[4096];
	size_t nb = 0, no = 0;
	const char *p = d;

	if (*d == '\0') {
		assert_string_equal(a, b);
		return;
	}
	p = strchr(p, '\n') + 1;	/* the @@ line */
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = (size_t)(e - p) + 1;

		if (*p == ' ' || *p == '+') {
			memcpy(buf + nb, p + 1, len - 1);
			nb += len - 1;
		}
		if (*p == ' ' || *p == '-') {
			memcpy(old + no, p + 1, len - 1);
			no += len - 1;
		}
		p = e + 1;
	}
	buf[nb] = old[no] = '\0';
	assert_string_equal(buf, b);
	assert_string_equal(old, a);
}

static void test_random(void **state)
{
	static const char *const words[] = { "a", "b", "c", "d" };
	char *la[40], *lb[40], ta[512], tb[512];

	(void)state;
	srand(7);
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)rand() % 30, m = (size_t)rand() % 30;
		size_t oa = 0, ob = 0, edits;
		char *d;

		for (size_t i = 0; i < n; i++) {
			la[i] = (char *)words[rand() % 4];
			oa += (size_t)sprintf(ta + oa, "%s\n", la[i]);
		}
		for (size_t i = 0; i < m; i++) {
			lb[i] = (char *)words[rand() % 4];
			ob += (size_t)sprintf(tb + ob, "%s\n", lb[i]);
		}
		ta[oa] = tb[ob] = '\0';
		d = diff(ta, tb, 1000, &edits);
		assert_int_equal(edits, distance(la, n, lb, m));
		check_applies(d, ta, tb);
		free(d);
	}
}

/* Past CH_DIFF_MAX_EDITS: the middle whole, still a right diff. */
static void test_bound(void **state)
{
	size_t n = CH_DIFF_MAX_EDITS + 10, edits;
	struct ch_buf a, b, out;

	(void)state;
	ch_buf_init(&a, 1u << 24);
	ch_buf_init(&b, 1u << 24);
	ch_buf_init(&out, 1u << 26);
	ch_buf_puts(&a, "head\n");
	ch_buf_puts(&b, "head\n");
	for (size_t i = 0; i < n; i++) {
		ch_buf_printf(&a, "a%zu\n", i);
		ch_buf_printf(&b, "b%zu\n", i);
	}
	ch_buf_puts(&a, "tail\n");
	ch_buf_puts(&b, "tail\n");
	assert_int_equal(ch_linediff(ch_buf_ptr(&a), ch_buf_len(&a),
				     ch_buf_ptr(&b), ch_buf_len(&b), 1, &out,
				     &edits), CH_OK);
	assert_int_equal(edits, 2 * n);
	assert_non_null(strstr(ch_buf_ptr(&out), " head\n-a0\n"));
	assert_non_null(strstr(ch_buf_ptr(&out), "+b0\n"));
	ch_buf_cleanup(&a);
	ch_buf_cleanup(&b);
	ch_buf_cleanup(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
