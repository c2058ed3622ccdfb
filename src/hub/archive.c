/* archive.c - the configuration archive (archive.h): when to fetch a
 * device's running configuration, and what is kept of it. The registry
 * does the keeping (registry/configs.c), devxml.c the text. */
#include "hub/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hub/devxml.h"
#include "hub/hub.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#define GET_RUNNING "<get-config><source><running/></source></get-config>"

/* One live device's archive state. Freed once the device is gone and no
 * fetch of it is out (the fetch's done() frees it then). */
struct archive_dev {
	struct hub *hub;
	struct device *d;		/* NULL once gone */
	char key[CH_FP_LEN];
	uv_timer_t settle;		/* the next fetch, after a change */
	int fetching;			/* a get-config is out */
	char cur_why[CH_STORE_TEXT_MAX];	/* what the one out is for */
	char next_why[CH_STORE_TEXT_MAX];	/* of the next fetch; "": none */
	unsigned more;			/* further changes folded into it */
};

static void on_closed(uv_handle_t *h)
{
	free(h->data);
}

static struct archive_dev *find(const struct device *d)
{
	return device_slot(d, DEVICE_SLOT_ARCHIVE);
}

/* "sha256:<hex>" of p[0..n). */
static int hash_of(const char *p, size_t n, char *out, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t off;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    len < sizeof("sha256:") + 2 * (size_t)mdlen)
		return CH_ERR_INVAL;
	off = (size_t)snprintf(out, len, "sha256:");
	for (unsigned int i = 0; i < mdlen; i++, off += 2)
		snprintf(out + off, len - off, "%02x", md[i]);
	return CH_OK;
}

static void on_settle(uv_timer_t *t);

/* The reply's configuration into the registry: a version when it is
 * new, an event either way when something is worth saying. */
static void keep(struct archive_dev *a, const char *reply, size_t len,
		 const char *trigger)
{
	struct hub *hub = a->hub;
	const struct ch_logctx *lc = device_log(a->d);
	char hash[CH_CONFIG_HASH_LEN], detail[CH_STORE_TEXT_MAX];
	struct ch_buf text;
	const char *why;
	int64_t version;
	int added, r;

	ch_buf_init(&text, CH_ARCHIVE_VERSION_MAX);
	if ((r = devxml_config(reply, len, &text, &why)) != CH_OK) {
		snprintf(detail, sizeof(detail), "running configuration not "
			 "archived (%s): %s%s", trigger, why,
			 r == CH_ERR_LIMIT ? " (at most "
			 CH_STR(CH_ARCHIVE_VERSION_MAX_MIB) " MiB)" : "");
		ch_clog(CH_LOG_WARN, lc, "%s", detail);
		hub_event(hub, a->key, "config-not-archived", detail);
		goto out;
	}
	if (hash_of(ch_buf_ptr(&text), ch_buf_len(&text), hash,
		    sizeof(hash)) != CH_OK ||
	    ch_store_config_add(hub->store, a->key, hub_now_s(), hash,
				trigger, ch_buf_ptr(&text), ch_buf_len(&text),
				CH_ARCHIVE_VERSIONS, &version, &added)
	    != CH_OK) {
		ch_clog(CH_LOG_ERROR, lc, "running configuration not "
			"archived (%s): the registry refused it", trigger);
		goto out;
	}
	if (!added) {
		ch_clog(CH_LOG_DEBUG, lc, "running configuration unchanged "
			"(version %lld, %s)", (long long)version, trigger);
		goto out;
	}
	snprintf(detail, sizeof(detail), "version %lld, %zu bytes, %s: %s",
		 (long long)version, ch_buf_len(&text), hash, trigger);
	ch_clog(CH_LOG_INFO, lc, "running configuration archived: %s",
		detail);
	hub_event(hub, a->key, "config-archived", detail);
out:
	ch_buf_cleanup(&text);
}

static void on_fetched(void *ctx, int r, const char *reply, size_t len,
		       const char *error)
{
	struct archive_dev *a = ctx;

	a->fetching = 0;
	if (a->d == NULL) {		/* gone meanwhile */
		uv_close((uv_handle_t *)&a->settle, on_closed);
		return;
	}
	if (r != CH_OK)
		ch_clog(CH_LOG_INFO, device_log(a->d), "running configuration "
			"not fetched for the archive (%s): %s", a->cur_why,
			error ? error : ch_strerror(r));
	else
		keep(a, reply, len, a->cur_why);
	/* a change reported while this one was out: after the settle */
	if (a->next_why[0] && !uv_is_active((uv_handle_t *)&a->settle))
		uv_timer_start(&a->settle, on_settle, CH_ARCHIVE_SETTLE_MS, 0);
}

/* Sends the get-config for what next says. */
static void fetch(struct archive_dev *a)
{
	const char *why;
	int r;

	if (a->more)
		snprintf(a->cur_why, sizeof(a->cur_why), "%.900s (and %u "
			 "more)", a->next_why, a->more);
	else
		snprintf(a->cur_why, sizeof(a->cur_why), "%s", a->next_why);
	a->next_why[0] = '\0';
	a->more = 0;
	if ((r = device_rpc(a->d, GET_RUNNING, on_fetched, a, &why)) != CH_OK) {
		ch_clog(CH_LOG_WARN, device_log(a->d), "running configuration "
			"not fetched for the archive (%s): %s", a->cur_why,
			why ? why : ch_strerror(r));
		return;
	}
	a->fetching = 1;
}

static void on_settle(uv_timer_t *t)
{
	struct archive_dev *a = t->data;

	if (a->d && !a->fetching && a->next_why[0])
		fetch(a);
}

void archive_device_ready(struct hub *hub, struct device *d)
{
	struct archive_dev *a;

	if (hub->cfg.no_config_archive || find(d))
		return;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		ch_clog(CH_LOG_ERROR, device_log(d), "configuration archive: "
			"out of memory");
		return;
	}
	a->hub = hub;
	a->d = d;
	snprintf(a->key, sizeof(a->key), "%s", device_key(d));
	uv_timer_init(hub->loop, &a->settle);
	a->settle.data = a;
	device_set_slot(d, DEVICE_SLOT_ARCHIVE, a);
	snprintf(a->next_why, sizeof(a->next_why), "call");
	fetch(a);
}

void archive_changed(struct hub *hub, struct device *d, const char *why)
{
	struct archive_dev *a = find(d);

	(void)hub;	/* the device holds its state */
	if (a == NULL)
		return;
	if (a->next_why[0])
		a->more++;
	snprintf(a->next_why, sizeof(a->next_why), "%s", why);
	if (!a->fetching && !uv_is_active((uv_handle_t *)&a->settle))
		uv_timer_start(&a->settle, on_settle, CH_ARCHIVE_SETTLE_MS, 0);
}

void archive_device_gone(struct hub *hub, struct device *d)
{
	struct archive_dev *a = find(d);

	(void)hub;
	if (a == NULL)
		return;
	device_set_slot(d, DEVICE_SLOT_ARCHIVE, NULL);
	a->d = NULL;
	uv_timer_stop(&a->settle);
	if (!a->fetching)	/* else its done() closes it */
		uv_close((uv_handle_t *)&a->settle, on_closed);
}
