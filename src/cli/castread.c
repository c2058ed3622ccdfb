/* castread.c - asciicast v2 lines, checked (castread.h). */
#include "cli/castread.h"

#include <math.h>

#include "lib/core/err.h"

int cast_header_parse(const char *p, size_t n, struct cast_header *h)
{
	json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);
	json_t *w, *ht, *il;
	int r = CH_ERR_INVAL;

	h->width = h->height = 0;
	h->idle_limit = 0;
	if (!json_is_object(j) ||
	    json_integer_value(json_object_get(j, "version")) != 2 ||
	    !json_is_integer(json_object_get(j, "version")))
		goto out;
	w = json_object_get(j, "width");
	ht = json_object_get(j, "height");
	if (json_is_integer(w) && json_integer_value(w) > 0 &&
	    json_integer_value(w) <= 65535)
		h->width = (unsigned)json_integer_value(w);
	if (json_is_integer(ht) && json_integer_value(ht) > 0 &&
	    json_integer_value(ht) <= 65535)
		h->height = (unsigned)json_integer_value(ht);
	il = json_object_get(j, "idle_time_limit");
	if (json_is_number(il) && json_number_value(il) > 0 &&
	    json_number_value(il) <= CAST_TIME_MAX)
		h->idle_limit = json_number_value(il);
	r = CH_OK;
out:
	json_decref(j);
	return r;
}

int cast_event_parse(const char *p, size_t n, double *t, char *code,
		     const char **data, size_t *len, json_t **keep)
{
	json_t *j, *jt, *jc, *jd;
	const char *c;

	*keep = NULL;
	*data = NULL;
	*len = 0;
	*t = 0;
	*code = '\0';
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n == 0)
		return CH_ERR_AGAIN;
	j = json_loadb(p, n, 0, NULL);
	jt = json_array_get(j, 0);
	jc = json_array_get(j, 1);
	jd = json_array_get(j, 2);
	if (!json_is_array(j) || json_array_size(j) != 3 ||
	    !json_is_number(jt) || !json_is_string(jc) ||
	    !json_is_string(jd) || !isfinite(json_number_value(jt)) ||
	    json_number_value(jt) < 0 ||
	    json_number_value(jt) > CAST_TIME_MAX ||
	    *(c = json_string_value(jc)) == '\0') {
		json_decref(j);
		return CH_ERR_INVAL;
	}
	*t = json_number_value(jt);
	*code = c[0];
	*data = json_string_value(jd);
	*len = json_string_length(jd);
	*keep = j;
	return CH_OK;
}
