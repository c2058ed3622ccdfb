/* select.c - device selector options into the request's "select"
 * (select.h). The hub checks the words; the CLI only refuses what is
 * plainly not one, so the message comes before a connection. */
#include <string.h>

#include "cli/args.h"
#include "cli/request.h"
#include "cli/select.h"

static const char *const states[] = {
	"connected", "online", "disconnected", "offline", "pending",
	"admitted", "revoked",
};

/* Appends s to the array member key of sel's object. */
static int add(struct run *run, struct cli_select *sel, const char *key,
	       const char *s)
{
	json_t *arr, *v;

	if (sel->obj == NULL && (sel->obj = json_object()) == NULL)
		return cli_out_of_memory();
	if ((arr = json_object_get(sel->obj, key)) == NULL) {
		if ((arr = json_array()) == NULL ||
		    json_object_set_new(sel->obj, key, arr) != 0)
			return cli_out_of_memory();
	}
	if ((v = json_string(s)) == NULL)
		return cli_usage_error(run, "'%s' is not valid UTF-8", s);
	if (json_array_append_new(arr, v) != 0)
		return cli_out_of_memory();
	return CLI_OK;
}

/* Sets the string member key of sel's object, once. */
static int set_once(struct run *run, struct cli_select *sel,
		    const char *key, const char *opt, const char *s)
{
	json_t *v;

	if (sel->obj == NULL && (sel->obj = json_object()) == NULL)
		return cli_out_of_memory();
	if (json_object_get(sel->obj, key))
		return cli_usage_error(run, "%s is given once", opt);
	if ((v = json_string(s)) == NULL)
		return cli_usage_error(run, "'%s' is not valid UTF-8", s);
	if (json_object_set_new(sel->obj, key, v) != 0)
		return cli_out_of_memory();
	return CLI_OK;
}

int sel_option(struct run *run, struct cli_select *sel, int c,
	       const char *arg, bool *taken)
{
	bool known = false;

	*taken = true;
	switch (c) {
	case OPT_TAG:
		if (strchr(arg, '=') == NULL || arg[0] == '=')
			return cli_usage_error(run, "--tag wants KEY=VALUE, "
					       "such as role=cpe, not '%s'",
					       arg);
		return add(run, sel, "tag", arg);
	case OPT_GROUP:
		if (arg[0] == '\0')
			return cli_usage_error(run, "--group wants a NAME");
		return add(run, sel, "group", arg);
	case OPT_NAME:
		if (arg[0] == '\0')
			return cli_usage_error(run, "--name wants a GLOB such "
					       "as 'lyon-*'");
		return set_once(run, sel, "name", "--name", arg);
	case OPT_DEVICE_STATE:
	case OPT_STATE:
		for (size_t i = 0; i < CLI_NELEMS(states); i++)
			known = known || strcmp(arg, states[i]) == 0;
		if (!known)
			return cli_usage_error(run, "a device's state is "
					       "connected, disconnected, "
					       "pending, admitted or revoked, "
					       "not '%s'", arg);
		return set_once(run, sel, "state", "the device state", arg);
	}
	*taken = false;
	return CLI_OK;
}

bool sel_is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

int sel_glob(struct run *run, struct cli_select *sel, const char *glob)
{
	return set_once(run, sel, "name", "--name (or a GLOB operand)", glob);
}

bool sel_given(const struct cli_select *sel)
{
	return sel->obj != NULL;
}

int sel_finish(struct run *run, struct cli_select *sel)
{
	json_t *obj = sel->obj;

	sel->obj = NULL;
	return obj ? req_set(run, "select", obj) : CLI_OK;
}

void sel_drop(struct cli_select *sel)
{
	json_decref(sel->obj);
	sel->obj = NULL;
}

int sel_device_or_glob(struct run *run, int argc, char **argv,
			    struct cli_select *sel, const char **dev)
{
	int r;

	if ((r = args_optional_device(run, argc, argv, dev)) != CLI_OK ||
	    *dev == NULL)
		return r;
	if (sel_is_glob(*dev)) {
		r = sel_glob(run, sel, *dev);
		*dev = NULL;
		return r;
	}
	if (sel_given(sel))
		return cli_usage_error(run, "give DEVICE or a selection "
				       "(--tag, --group, --name, a state), "
				       "not both");
	return CLI_OK;
}
