/* table.h - text for a terminal: aligned tables built from a JSON array,
 * and "label: value" lines. Every cell is sanitised: a control character
 * from the hub prints as '?'. */
#ifndef CH_CLI_TABLE_H
#define CH_CLI_TABLE_H

#include <jansson.h>

#define TABLE_MAX_COLS 8
#define CELL_MAX 128		/* a formatted table cell */
#define FIELD_WIDTH 17		/* detail labels: "connected since: " */

/* One row's cells: pointers into the JSON, or into buf when formatted. */
struct cells {
	const char *cell[TABLE_MAX_COLS];
	char buf[TABLE_MAX_COLS][CELL_MAX];
};

struct table {
	const char *head[TABLE_MAX_COLS];
	int ncols;
	/* Fills c from one item of the array; c may point into item. */
	void (*row)(json_t *item, struct cells *c);
	int width[TABLE_MAX_COLS];	/* at least these; table_measure */
};

/* Sets cell col to the decimal v, in c's own buffer. */
void table_cell_int(struct cells *c, int col, json_int_t v);

/* Widens the columns to the header and to every row of items. */
void table_measure(struct table *t, json_t *items);

/* Prints one line of cells (t->head for the header) in t's widths. */
void table_line(const struct table *t, const char *const *cell);

/* The header and a row for each of items, measured first. */
void table_print(struct table *t, json_t *items);

/* One "label:  value" line of a detail view. */
void table_field(const char *label, const char *value);

#endif
