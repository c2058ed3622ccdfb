/* linediff.c - a unified line diff (linediff.h): Myers, "An O(ND)
 * Difference Algorithm and Its Variations" (1986), the greedy forward
 * search keeping each round's furthest reaching paths, then a walk back
 * from the end for the script. */
#include "lib/core/linediff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/err.h"
#include "lib/core/limits.h"

struct line {
	const char *p;
	size_t len;		/* with its '\n', if it has one */
};

enum { OP_EQ, OP_DEL, OP_INS };

struct op {
	unsigned char kind;
	size_t ai, bi;		/* the line in a (EQ, DEL) or b (INS) */
};

/* Splits t into lines; *n gets how many. NULL for none or no memory
 * (*n tells: 0 is not an error). */
static struct line *split(const char *t, size_t len, size_t *n)
{
	struct line *l;
	size_t count = 0, i = 0, k = 0;

	for (size_t j = 0; j < len; j++)
		if (t[j] == '\n')
			count++;
	if (len && t[len - 1] != '\n')
		count++;
	*n = count;
	if (count == 0 || (l = calloc(count, sizeof(*l))) == NULL)
		return NULL;
	while (i < len) {
		const char *e = memchr(t + i, '\n', len - i);
		size_t end = e ? (size_t)(e - t) + 1 : len;

		l[k].p = t + i;
		l[k++].len = end - i;
		i = end;
	}
	return l;
}

static int same(const struct line *x, const struct line *y)
{
	return x->len == y->len && memcmp(x->p, y->p, x->len) == 0;
}

/* The shortest script for a[0..n) -> b[0..m) (both offset by off in the
 * whole texts) into ops[*nops..]; CH_ERR_LIMIT past CH_DIFF_MAX_EDITS. */
static int myers(const struct line *a, size_t n, const struct line *b,
		 size_t m, size_t off_a, size_t off_b, struct op *ops,
		 size_t *nops)
{
	size_t maxd = n + m < CH_DIFF_MAX_EDITS ? n + m : CH_DIFF_MAX_EDITS;
	int32_t *trace;
	int64_t d, k, x, y, found = -1;
	size_t w;

	/* round d keeps V[-d..d] at trace[d * d + d + k] */
	if ((trace = malloc((maxd + 1) * (maxd + 1) * sizeof(*trace))) ==
	    NULL)
		return CH_ERR_NOMEM;
#define V(dd, kk) trace[(dd) * (dd) + (dd) + (kk)]
	for (d = 0; d <= (int64_t)maxd && found < 0; d++) {
		for (k = -d; k <= d; k += 2) {
			if (d == 0)
				x = 0;
			else if (k == -d || (k != d && V(d - 1, k - 1) <
						       V(d - 1, k + 1)))
				x = V(d - 1, k + 1);	/* down: an insert */
			else
				x = V(d - 1, k - 1) + 1;	/* right: a delete */
			y = x - k;
			while (x < (int64_t)n && y < (int64_t)m &&
			       same(&a[x], &b[y]))
				x++, y++;
			V(d, k) = (int32_t)x;
			if (x >= (int64_t)n && y >= (int64_t)m) {
				found = d;
				break;
			}
		}
	}
	if (found < 0) {
		free(trace);
		return CH_ERR_LIMIT;
	}
	/* back from (n, m): each round one edit and the snake after it;
	 * the script is written from its end */
	w = *nops + n + (size_t)(m - (m + n - (size_t)found) / 2);
	*nops = w;
	x = (int64_t)n;
	y = (int64_t)m;
	for (d = found; d >= 0; d--) {
		int64_t px, py, mx, my, pk;
		int ins;

		k = x - y;
		if (d == 0) {
			px = py = mx = my = 0;
			ins = -1;
		} else {
			ins = k == -d || (k != d && V(d - 1, k - 1) <
						    V(d - 1, k + 1));
			pk = ins ? k + 1 : k - 1;
			px = V(d - 1, pk);
			py = px - pk;
			mx = ins ? px : px + 1;
			my = ins ? py + 1 : py;
		}
		while (x > mx && y > my) {
			x--, y--;
			ops[--w] = (struct op){ OP_EQ, off_a + (size_t)x,
						off_b + (size_t)y };
		}
		if (ins == 1)
			ops[--w] = (struct op){ OP_INS, 0, off_b + (size_t)py };
		else if (ins == 0)
			ops[--w] = (struct op){ OP_DEL, off_a + (size_t)px, 0 };
		x = px;
		y = py;
	}
#undef V
	free(trace);
	return CH_OK;
}

static int put_line(struct ch_buf *out, char mark, const struct line *l)
{
	int r;

	if ((r = ch_buf_put(out, &mark, 1)) != CH_OK ||
	    (r = ch_buf_put(out, l->p, l->len)) != CH_OK)
		return r;
	if (l->len == 0 || l->p[l->len - 1] != '\n')
		r = ch_buf_puts(out, "\n\\ No newline at end of file\n");
	return r;
}

/* "-3,2" / "-3" (one line) / "-2,0" (none: the line before). */
static int put_range(struct ch_buf *out, char c, size_t first, size_t len)
{
	if (len == 1)
		return ch_buf_printf(out, " %c%zu", c, first + 1);
	return ch_buf_printf(out, " %c%zu,%zu", c, len ? first + 1 : first,
			     len);
}

/* The hunks of ops[0..n) into out. */
static int hunks(const struct op *ops, size_t n, const struct line *a,
		 const struct line *b, unsigned context, struct ch_buf *out)
{
	size_t i = 0, start, end, j, na, nb, fa, fb;
	int r = CH_OK;

	while (i < n) {
		if (ops[i].kind == OP_EQ) {
			i++;
			continue;
		}
		/* a hunk: back context lines, then on while the next
		 * change is within 2 * context equal lines */
		start = i > context ? i - context : 0;
		end = i;
		for (j = i; j < n; j++) {
			if (ops[j].kind != OP_EQ) {
				end = j + 1;
			} else if (j - end >= 2 * (size_t)context) {
				break;
			}
		}
		end = end + context < n ? end + context : n;
		na = nb = 0;
		/* the lines before the hunk in a and in b */
		fa = fb = 0;
		for (j = 0; j < start; j++) {
			fa += ops[j].kind != OP_INS;
			fb += ops[j].kind != OP_DEL;
		}
		for (j = start; j < end; j++) {
			na += ops[j].kind != OP_INS;
			nb += ops[j].kind != OP_DEL;
		}
		if ((r = ch_buf_puts(out, "@@")) != CH_OK ||
		    (r = put_range(out, '-', fa, na)) != CH_OK ||
		    (r = put_range(out, '+', fb, nb)) != CH_OK ||
		    (r = ch_buf_puts(out, " @@\n")) != CH_OK)
			return r;
		for (j = start; j < end && r == CH_OK; j++)
			r = ops[j].kind == OP_EQ ? put_line(out, ' ',
							    &a[ops[j].ai])
			    : ops[j].kind == OP_DEL ? put_line(out, '-',
							       &a[ops[j].ai])
			    : put_line(out, '+', &b[ops[j].bi]);
		i = end;
	}
	return r;
}

int ch_linediff(const char *a, size_t alen, const char *b, size_t blen,
		unsigned context, struct ch_buf *out, size_t *edits)
{
	struct line *la = NULL, *lb = NULL;
	struct op *ops = NULL;
	size_t na, nb, head = 0, tail = 0, nops = 0, mid_a, mid_b, ne = 0;
	int r = CH_ERR_NOMEM;

	if (edits)
		*edits = 0;
	la = split(a, alen, &na);
	lb = split(b, blen, &nb);
	if ((na && la == NULL) || (nb && lb == NULL) ||
	    (ops = calloc(na + nb + 1, sizeof(*ops))) == NULL)
		goto out;
	r = CH_ERR_LIMIT;
	if (na >= INT32_MAX || nb >= INT32_MAX)
		goto out;
	while (head < na && head < nb && same(&la[head], &lb[head]))
		head++;
	while (tail < na - head && tail < nb - head &&
	       same(&la[na - 1 - tail], &lb[nb - 1 - tail]))
		tail++;
	for (size_t i = 0; i < head; i++)
		ops[nops++] = (struct op){ OP_EQ, i, i };
	mid_a = na - head - tail;
	mid_b = nb - head - tail;
	r = myers(la + head, mid_a, lb + head, mid_b, head, head, ops, &nops);
	if (r == CH_ERR_LIMIT) {	/* too far apart: the middle whole */
		for (size_t i = 0; i < mid_a; i++)
			ops[nops++] = (struct op){ OP_DEL, head + i, 0 };
		for (size_t i = 0; i < mid_b; i++)
			ops[nops++] = (struct op){ OP_INS, 0, head + i };
		r = CH_OK;
	}
	if (r != CH_OK)
		goto out;
	for (size_t i = 0; i < tail; i++)
		ops[nops++] = (struct op){ OP_EQ, na - tail + i, nb - tail + i };
	for (size_t i = 0; i < nops; i++)
		ne += ops[i].kind != OP_EQ;
	if (edits)
		*edits = ne;
	r = hunks(ops, nops, la, lb, context, out);
out:
	free(la);
	free(lb);
	free(ops);
	return r;
}
