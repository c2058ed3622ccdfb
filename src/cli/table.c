/* table.c - aligned columns and "label: value" lines on stdout. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/table.h"

/* A field reaches the terminal: no control characters. Pads to width
 * plus two spaces unless last; a cell wider than width pushes on. */
static void put_cell(const char *s, int width, bool last)
{
	int n = 0;

	for (; *s; s++, n++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s,
		      stdout);
	if (!last)
		printf("%*s", (n < width ? width - n : 0) + 2, "");
}

void table_field(const char *label, const char *value)
{
	printf("%-*s", FIELD_WIDTH, label);
	put_cell(value, 0, true);
	fputc('\n', stdout);
}

void table_cell_int(struct cells *c, int col, json_int_t v)
{
	snprintf(c->buf[col], CELL_MAX, "%" JSON_INTEGER_FORMAT, v);
	c->cell[col] = c->buf[col];
}

static void widen(struct table *t, const char *const *cell)
{
	for (int k = 0; k < t->ncols; k++)
		if ((int)strlen(cell[k]) > t->width[k])
			t->width[k] = (int)strlen(cell[k]);
}

void table_measure(struct table *t, json_t *items)
{
	struct cells c;
	json_t *item;
	size_t i;

	widen(t, t->head);
	json_array_foreach(items, i, item) {
		t->row(item, &c);
		widen(t, c.cell);
	}
}

void table_line(const struct table *t, const char *const *cell)
{
	for (int k = 0; k < t->ncols; k++)
		put_cell(cell[k], t->width[k], k == t->ncols - 1);
	fputc('\n', stdout);
}

void table_print(struct table *t, json_t *items)
{
	struct cells c;
	json_t *item;
	size_t i;

	table_measure(t, items);
	table_line(t, t->head);
	json_array_foreach(items, i, item) {
		t->row(item, &c);
		table_line(t, c.cell);
	}
}
