/* snmpframe.c - SNMP messages on a byte stream (snmpframe.h). */
#include "lib/core/snmpframe.h"

#include "lib/core/err.h"


int ch_snmp_frame_next(const uint8_t *p, size_t n, size_t max, size_t *used,
		       const char **why)
{
	size_t hdr, len = 0, nlen;

	*used = 0;
	*why = NULL;
	if (n == 0)
		return CH_ERR_AGAIN;
	if (p[0] != CH_SNMP_TAG_SEQUENCE) {
		*why = "not an SNMP message (no BER SEQUENCE)";
		return CH_ERR_PROTO;
	}
	if (n < 2)
		return CH_ERR_AGAIN;
	if (p[1] < 0x80) {
		len = p[1];
		hdr = 2;
	} else {
		nlen = p[1] & 0x7f;
		if (nlen == 0) {
			*why = "an indefinite BER length (SNMP takes none)";
			return CH_ERR_PROTO;
		}
		if (nlen > CH_SNMP_HDR_MAX - 2) {
			*why = "a BER length over the message size limit";
			return CH_ERR_PROTO;
		}
		hdr = 2 + nlen;
		if (n < hdr)
			return CH_ERR_AGAIN;
		for (size_t i = 0; i < nlen; i++)
			len = len << 8 | p[2 + i];
	}
	if (len > max || hdr + len > max) {
		*why = "a BER length over the message size limit";
		return CH_ERR_PROTO;
	}
	if (n < hdr + len)
		return CH_ERR_AGAIN;
	*used = hdr + len;
	return CH_OK;
}

int ch_snmp_budget_take(struct ch_snmp_budget *b, uint64_t now_ms,
			uint32_t limit)
{
	if (b->used == 0 || now_ms - b->window_ms >= CH_SNMP_RATE_WINDOW_MS ||
	    now_ms < b->window_ms) {
		b->window_ms = now_ms;
		b->used = 0;
	}
	if (b->used >= limit)
		return 0;
	b->used++;
	return 1;
}

static void expire(struct ch_snmp_inflight *f, uint64_t now_ms)
{
	while (f->n && (now_ms < f->sent_ms[f->head] ||
			now_ms - f->sent_ms[f->head] >= CH_SNMP_REPLY_WAIT_MS))
		ch_snmp_inflight_reply(f);
}

int ch_snmp_inflight_add(struct ch_snmp_inflight *f, uint64_t now_ms)
{
	expire(f, now_ms);
	if (f->n >= CH_SNMP_INFLIGHT)
		return 0;
	f->sent_ms[(f->head + f->n) % CH_SNMP_INFLIGHT] = now_ms;
	f->n++;
	return 1;
}

void ch_snmp_inflight_reply(struct ch_snmp_inflight *f)
{
	if (f->n == 0)
		return;
	f->head = (f->head + 1) % CH_SNMP_INFLIGHT;
	f->n--;
}

uint32_t ch_snmp_inflight_count(struct ch_snmp_inflight *f, uint64_t now_ms)
{
	expire(f, now_ms);
	return f->n;
}
