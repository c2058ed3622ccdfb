/* admission.c - who may call in: a device's identity looked up in the
 * registry (or enrolled by the admission policy), refused or admitted,
 * bound to its trust anchor over TLS, an older session of the same device
 * replaced; and the registry's record of its sessions coming and going.
 * service.c calls in here from the device sessions' owner operations.
 */
#include "hub/admission.h"

#include <stdio.h>
#include <string.h>

#include "hub/blocklist.h"
#include "hub/devindex.h"
#include "hub/hub.h"
#include "hub/worker.h"
#include "hub/device.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/id/identity.h"

void admission_superseded(struct hub *hub, const char *key)
{
	struct device *d, *skip = NULL;
	char detail[256];

	while ((d = devindex_find(hub->index, key, skip, 0)) != NULL) {
		snprintf(detail, sizeof(detail), "conn=%u from %s replaced by "
			 "a newer connection on another worker of the hub",
			 device_conn_id(d), device_peer(d));
		hub_event(hub, key, "replaced", detail);
		device_set_superseded(d);
		device_close(d, "replaced by a newer connection of the same "
			     "device (on another worker)");
		skip = d;	/* should closing leave it indexed */
	}
}

int admission_close_sessions(struct hub *hub, const char *key,
			     struct device *keep, const char *why)
{
	int n = 0;
	struct device *d;

	/* device_close takes it out of the index at once */
	while ((d = devindex_find(hub->index, key, keep, 0)) != NULL) {
		device_close(d, why);
		n++;
	}
	return n;
}

/* A new device under the name it offered (name NULL: none), or unnamed
 * when the registry's naming rules refuse that name (taken, or not a
 * device name): both are events. */
static int add_named(struct hub *hub, const char *fp, const char *name,
		     int admission)
{
	char detail[CH_STORE_TEXT_MAX], why[CH_STORE_TEXT_MAX / 2];
	int r = ch_store_device_add(hub->store, fp, name, admission);

	if (name == NULL || (r != CH_ERR_EXISTS && r != CH_ERR_INVAL)) {
		if (r == CH_OK && name)
			hub_event(hub, fp, "named", name);
		return r;
	}
	if (ch_store_name_check(hub->store, fp, name, why, sizeof(why)) ==
	    CH_OK)
		snprintf(why, sizeof(why), "'%.64s' is taken", name);
	snprintf(detail, sizeof(detail), "the name it offered was refused: "
		 "%s; enrolled unnamed (`callhome rename`)", why);
	hub_event(hub, fp, "name-refused", detail);
	return ch_store_device_add(hub->store, fp, NULL, admission);
}

/* The registry record for fp; an unknown fp is enrolled by the admission
 * policy first (or refused under known-only), named name if it offered
 * one. what names the identity in texts ("device", "serial number"). */
static int lookup_or_enroll(struct hub *hub, struct device *d, const char *fp,
			    const char *name, const char *what,
			    struct ch_device_rec *rec, const char **why)
{
	char detail[256];
	int r;

	r = ch_store_device_get(hub->store, fp, rec);
	if (r == CH_ERR_NOTFOUND) {
		snprintf(detail, sizeof(detail), "unknown %s called from %s",
			 what, device_peer(d));
		if (hub->cfg.admission == HUB_ADMIT_KNOWN_ONLY) {
			hub_event(hub, fp, "refused", detail);
			*why = strcmp(what, "device") == 0
			       ? "unknown device (--admission known-only)"
			       : "unknown serial number or certificate "
				 "(--admission known-only)";
			return CH_ERR_DENIED;
		}
		r = add_named(hub, fp, name,
			      hub->cfg.admission == HUB_ADMIT_TRUST_NEW
			      ? CH_ADMIT_ADMITTED : CH_ADMIT_PENDING);
		if (r == CH_OK && hub->cfg.admission == HUB_ADMIT_TRUST_NEW)
			hub_event(hub, fp, "enrolled",
				  "admitted at first call (--admission trust-new)");
		if (r == CH_OK)
			r = ch_store_device_get(hub->store, fp, rec);
	}
	if (r != CH_OK) {
		*why = "registry unavailable";
		return CH_ERR_DENIED;
	}
	return CH_OK;
}

/* The part of admission common to SSH and TLS, once rec is known: its
 * admission checked; take_over() when every check passed. */
static int admit_known(struct hub *hub, struct device *d, const char *fp,
		       struct ch_device_rec *rec, const char **why);
static int take_over(struct hub *hub, struct device *d, const char *fp,
		     const struct ch_device_rec *rec, const char **why);

static int admit_ssh(struct hub *hub, struct device *d, const char *fp,
		     const char *name, const char **why)
{
	struct ch_device_rec rec;
	int r;

	*why = NULL;
	if (lookup_or_enroll(hub, d, fp, name, "device", &rec, why) != CH_OK)
		return CH_ERR_DENIED;
	if ((r = admit_known(hub, d, fp, &rec, why)) != CH_OK)
		return r;
	return take_over(hub, d, fp, &rec, why);
}

/* A TLS device whose chain validated (RFC 8071 C5-C7): a pinned
 * certificate is looked up first, then the serial. A device is bound to
 * the anchor of its first admitted call and refused under any other (a
 * serial number is unique only per manufacturer). Also records the
 * certificate, and a rotation as an event. */
static int admit_tls(struct hub *hub, struct device *d, const char *serial_id,
		     const char *cert_id, const char *anchor_id,
		     const char **why)
{
	struct ch_device_rec rec;
	const char *fp = serial_id ? serial_id : cert_id;
	char prev[sizeof(rec.cert_fp)], detail[512];
	int r;

	*why = NULL;
	/* A pinned certificate first: it names one device exactly. */
	if (ch_store_device_get(hub->store, cert_id, &rec) == CH_OK)
		fp = cert_id;
	device_set_presented(d, fp);
	if (lookup_or_enroll(hub, d, fp, NULL, serial_id ? "serial number"
			     : "certificate", &rec, why) != CH_OK)
		return CH_ERR_DENIED;
	if ((r = admit_known(hub, d, fp, &rec, why)) != CH_OK)
		return r;
	/* Admitted under an anchor: the device is bound to it. Another
	 * manufacturer's CA may issue the same serial number. */
	if (ch_store_device_anchor(hub->store, rec.fingerprint, anchor_id,
				   prev) == CH_ERR_DENIED) {
		snprintf(detail, sizeof(detail), "%s: its chain leads to "
			 "trust anchor %s, but the device is bound to %s",
			 fp, anchor_id, prev);
		hub_event(hub, fp, "refused", detail);
		ch_clog(CH_LOG_WARN, device_log(d), "refused: %s", detail);
		*why = "certificate chains to another trust anchor than the "
		       "one this device was admitted under";
		return CH_ERR_DENIED;
	}
	/* only now: another CA's certificate with its serial must not
	 * replace the device's session */
	if ((r = take_over(hub, d, fp, &rec, why)) != CH_OK)
		return r;
	/* The chain validated (or we would not be here): a new certificate
	 * for a known serial is a rotation, admitted and recorded. */
	if (ch_store_device_cert_seen(hub->store, rec.fingerprint, cert_id,
				      prev) == CH_OK && prev[0] &&
	    strcmp(prev, cert_id) != 0) {
		snprintf(detail, sizeof(detail), "%s presented a new "
			 "certificate %s (was %s); its chain validated",
			 fp, cert_id, prev);
		hub_event(hub, rec.fingerprint, "cert-rotated", detail);
		ch_clog(CH_LOG_INFO, device_log(d), "certificate rotated: %s "
			"(was %s)", cert_id, prev);
	}
	return CH_OK;
}

/* A pending or revoked device called: its first refusal (since its
 * admission changed) is an event and log lines; later ones are counted
 * on its record and logged once per CH_HUB_REFUSED_LOG_S with the count.
 * 1 when this one is to be told. */
static int refusal_told(struct hub *hub, struct device *d, const char *fp,
			const struct ch_device_rec *rec)
{
	int n, log_it;

	if (ch_store_device_refused(hub->store, fp, hub_now_s(),
				    CH_HUB_REFUSED_LOG_S, &n, &log_it) != CH_OK)
		return 1;
	if (n <= 1)
		return 1;
	device_set_quiet_close(d);
	if (log_it)
		ch_clog(CH_LOG_INFO, device_log(d), "still %s: %d calls "
			"refused since its first (counted, not logged each: "
			"callhome device)", ch_admission_name(rec->admission),
			n);
	return 0;
}

static int admit_known(struct hub *hub, struct device *d, const char *fp,
		       struct ch_device_rec *prec, const char **why)
{
	struct ch_device_rec rec = *prec;
	char detail[256];
	int tell = 1;

	device_set_name(d, rec.name);
	ch_store_device_seen(hub->store, fp, device_peer(d), hub_now_s());
	if (rec.admission == CH_ADMIT_PENDING &&
	    hub->cfg.admission == HUB_ADMIT_TRUST_NEW) {
		ch_store_device_set_admission(hub->store, fp, CH_ADMIT_ADMITTED);
		hub_event(hub, fp, "enrolled", "admitted (--admission trust-new)");
		rec.admission = CH_ADMIT_ADMITTED;
	}
	if (rec.admission != CH_ADMIT_ADMITTED)
		tell = refusal_told(hub, d, fp, &rec);
	snprintf(detail, sizeof(detail), "from %s%s%s", device_peer(d),
		 strcmp(fp, rec.fingerprint) ? " with key " : "",
		 strcmp(fp, rec.fingerprint) ? fp : "");
	if (tell)
		hub_event(hub, fp, "called", detail);

	if (rec.admission == CH_ADMIT_PENDING) {
		*why = ch_id_kind(fp) == CH_ID_SERIAL
		       ? "unknown serial number: recorded as pending, not "
			 "admitted (admit it with `callhome approve` or "
			 "`callhome import-serials`)"
		       : "unknown device: recorded as pending, not admitted "
			 "(admit it with `callhome approve`)";
		if (tell)
			hub_event(hub, fp, "refused", ch_id_kind(fp) ==
				  CH_ID_SERIAL ? "unknown serial number: not "
				  "admitted (pending approval)"
				  : "not admitted (pending approval)");
		return CH_ERR_DENIED;
	}
	if (rec.admission == CH_ADMIT_REVOKED) {
		*why = "device identity revoked";
		if (tell)
			hub_event(hub, fp, "refused", "identity revoked");
		return CH_ERR_DENIED;
	}
	*prec = rec;
	return CH_OK;
}

/* Every check passed: d is the device rec now. An older connection of
 * the same device is most likely half-open (the device rebooted or
 * moved): the newer one wins. */
static int take_over(struct hub *hub, struct device *d, const char *fp,
		     const struct ch_device_rec *rec, const char **why)
{
	struct device *o;
	char detail[256];

	device_set_key(d, rec->fingerprint);
	device_set_idle_close(d, rec->idle_close >= 0 ?
			      (uint32_t)rec->idle_close :
			      hub->cfg.idle_close_s);
	blocklist_success(hub->blocklist, device_addr(d), hub_now_s());
	worker_source(hub, device_addr(d), 1);
	while ((o = devindex_find(hub->index, rec->fingerprint, d, 0))) {
		snprintf(detail, sizeof(detail), "conn=%u from %s replaced by "
			 "conn=%u from %s", device_conn_id(o), device_peer(o),
			 device_conn_id(d), device_peer(d));
		hub_event(hub, fp, "replaced", detail);
		device_close(o, "replaced by a newer connection of the same "
			     "device");	/* out of the index at once */
	}
	if (devindex_add(hub->index, d) != CH_OK) {
		*why = "out of memory";
		return CH_ERR_NOMEM;
	}
	return CH_OK;
}

/* The registry writes below are the device's own records: grouped
 * (hub_records_begin). An operator's change is never among them. */
int admission_admit(struct hub *hub, struct device *d,
		    const struct device_id *id, const char **why)
{
	int r;

	*why = NULL;
	hub_records_begin(hub);
	r = id->tls ? admit_tls(hub, d, id->serial_id, id->cert_id,
				id->anchor_id, why)
		    : admit_ssh(hub, d, id->fp, id->name, why);
	hub_records_end(hub);
	return r;
}

void admission_connected(struct hub *hub, struct device *d, size_t ncaps)
{
	const char *key = device_key(d);

	hub_records_begin(hub);
	ch_store_device_connected(hub->store, key, 1, (int)ncaps, NULL,
				  hub_now_s());
	hub_event(hub, key, "connected", device_peer(d));
	hub_records_end(hub);
}

static void gone(struct hub *hub, struct device *d);

void admission_gone(struct hub *hub, struct device *d)
{
	hub_records_begin(hub);
	gone(hub, d);
	hub_records_end(hub);
}

static void gone(struct hub *hub, struct device *d)
{
	const char *key = device_key(d);

	if (!device_admitted(d)) {
		/* Never identified and admitted: a failure of this address. */
		worker_source(hub, device_addr(d), 0);
		if (blocklist_failure(hub->blocklist, device_addr(d), hub_now_s()))
			ch_log_rl(CH_LOG_WARN, "blocking %s for %u s after %u "
				  "failed handshakes", device_peer(d),
				  hub->cfg.block_for_s, hub->cfg.block_after);
		return;
	}
	if (!device_was_ready(d))
		return;	/* never counted as connected */
	/* no newer session is up, here or on another worker */
	if (hub_find_device(hub, key) == NULL && !device_superseded(d))
		ch_store_device_connected(hub->store, key, 0, 0,
					  device_close_reason(d), hub_now_s());
	hub_event(hub, key, "disconnected", device_close_reason(d));
}
