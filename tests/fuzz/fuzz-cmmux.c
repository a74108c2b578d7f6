// SPDX-License-Identifier: GPL-3.0-or-later
/* libFuzzer target: pvrdma-mux's routing tables (cm_mux.c) driven by
 * arbitrary operations, each checked against a plain list that does the
 * same by linear search: REG, UNREG, a client leaving, MADs sent (comm ids
 * learned, each its first owner's), MADs routed, time passing (expiry),
 * with a table limit and a smaller per-client one. Small limits and few
 * distinct keys make the tables fill, collide and wrap. An input whose
 * first byte is 0xff is instead one MAD from the port, routed as it is. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cm_mux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LIMIT		8
#define CLIENTS		4
#define PER_CLIENT	3	/* of LIMIT, per client */
#define TTL_MS		100

struct model_entry {
	uint64_t key, ifid, last;
	uint32_t client;
	bool used;
};

struct model {
	struct model_entry gid[LIMIT], comm[LIMIT];
};

static struct model_entry *model_find(struct model_entry *t, uint64_t key)
{
	for (int i = 0; i < LIMIT; i++)
		if (t[i].used && t[i].key == key)
			return &t[i];
	return NULL;
}

static struct model_entry *model_free(struct model_entry *t)
{
	for (int i = 0; i < LIMIT; i++)
		if (!t[i].used)
			return &t[i];
	return NULL;
}

/* A new entry for client: NULL when the table or its share is full. */
static struct model_entry *model_room(struct model_entry *t, uint32_t client)
{
	uint32_t n = 0;

	for (int i = 0; i < LIMIT; i++)
		n += t[i].used && t[i].client == client;
	return n < PER_CLIENT ? model_free(t) : NULL;
}

static uint32_t model_count(const struct model_entry *t)
{
	uint32_t n = 0;

	for (int i = 0; i < LIMIT; i++)
		n += t[i].used;
	return n;
}

/* A CM MAD of attr with comm ids and a destination interface id. */
static size_t make_mad(uint8_t *mad, uint16_t attr, uint32_t local, uint32_t remote, uint64_t dst,
		       size_t len)
{
	memset(mad, 0, CMMUX_MAD_MAX);
	mad[0] = 1;
	mad[1] = CMMUX_CLASS_CM;
	mad[2] = CMMUX_CLASS_VERSION;
	mad[3] = 3;
	mad[16] = (uint8_t)(attr >> 8);
	mad[17] = (uint8_t)attr;
	memcpy(mad + 24, &local, 4);
	memcpy(mad + 28, &remote, 4);
	memcpy(mad + 24 + 80, &dst, 8);
	memcpy(mad + 24 + 44, &dst, 8);
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cmmux_limits lim = {
		.gids = LIMIT, .commids = LIMIT, .commid_ttl_ms = TTL_MS, .clients = CLIENTS,
		.gids_per_client = PER_CLIENT, .commids_per_client = PER_CLIENT,
	};
	struct cmmux_router *r = cmmux_router_new(&lim);
	struct model m = { 0 };
	uint8_t mad[CMMUX_MAD_MAX];
	uint64_t now = 0;

	if (!r)
		abort();
	if (size && data[0] == 0xff) {
		struct cmmux_route rt;

		cmmux_route_mad(r, data + 1, size - 1 > CMMUX_MAD_MAX ? CMMUX_MAD_MAX : size - 1, 0, &rt);
		if (rt.client != CMMUX_NO_CLIENT || !rt.why)
			abort();	/* nothing is registered: every MAD is dropped, saying why */
		cmmux_router_free(r);
		return 0;
	}
	for (size_t i = 0; i + 4 <= size; i += 4) {
		uint8_t op = data[i] % 6, a = data[i + 1], b = data[i + 2], c = data[i + 3];
		uint32_t client = a % CLIENTS;
		uint64_t ifid = b % 12;		/* few keys: collisions */
		uint32_t comm = c % 12;
		struct cmmux_route rt;
		struct model_entry *e;
		enum cmmux_err want, got;
		bool full;
		size_t len;

		switch (op) {
		case 0:	/* REG */
			e = model_find(m.gid, ifid);
			want = e ? (e->client == client ? CMMUX_EEXIST : CMMUX_EACCES) :
			       model_room(m.gid, client) ? CMMUX_OK : CMMUX_EINVAL;
			got = cmmux_reg(r, client, ifid, &full);
			if (got != want || full != (want == CMMUX_EINVAL))
				abort();
			if (want == CMMUX_OK)
				*model_room(m.gid, client) = (struct model_entry){ ifid, 0, 0, client, true };
			break;
		case 1:	/* UNREG */
			e = model_find(m.gid, ifid);
			want = !e ? CMMUX_ENOTFOUND : e->client != client ? CMMUX_EACCES : CMMUX_OK;
			if (cmmux_unreg(r, client, ifid) != want)
				abort();
			if (want == CMMUX_OK)
				e->used = false;
			break;
		case 2:	/* a client leaves */
			cmmux_drop_client(r, client);
			for (int k = 0; k < LIMIT; k++) {
				if (m.gid[k].client == client)
					m.gid[k].used = false;
				if (m.comm[k].client == client)
					m.comm[k].used = false;
			}
			break;
		case 3: {	/* a client sends a REQ or REP: its comm id is learned */
			enum cmmux_learned want_l = CMMUX_LEARNED;

			len = make_mad(mad, b & 1 ? 0x10 : 0x13, comm, 0, 0, CMMUX_MAD_MAX);
			e = comm ? model_find(m.comm, comm) : NULL;
			if (e && e->client != client)
				want_l = CMMUX_ID_TAKEN;	/* the first owner keeps it */
			else if (comm && !e && !(e = model_room(m.comm, client)))
				want_l = CMMUX_TABLE_FULL;
			if (cmmux_learn(r, client, ifid, mad, len, now) != want_l)
				abort();
			if (want_l == CMMUX_LEARNED && comm)
				*e = (struct model_entry){ comm, ifid, now, client, true };
			break;
		}
		case 4:	/* a reply from the port, by comm id; or a REQ by GID */
			if (b & 1) {
				len = make_mad(mad, 0x12, 0, comm, 0, (size_t)(c | 1));
				cmmux_route_mad(r, mad, len, now, &rt);
				e = model_find(m.comm, comm);
				if (len < 32 || !comm || !e) {
					if (rt.client != CMMUX_NO_CLIENT)
						abort();
				} else if (rt.client != e->client || rt.ifid != e->ifid) {
					abort();
				} else {
					e->last = now;
				}
			} else {
				len = make_mad(mad, 0x10, 0, 0, ifid, CMMUX_MAD_MAX);
				cmmux_route_mad(r, mad, len, now, &rt);
				e = model_find(m.gid, ifid);
				if (e && (rt.client != e->client || rt.ifid != ifid))
					abort();
				if (!e && rt.client != CMMUX_NO_CLIENT && !rt.fallback)
					abort();
			}
			break;
		case 5:	/* time passes */
			now += a;
			cmmux_expire(r, now);
			for (int k = 0; k < LIMIT; k++)
				if (m.comm[k].used && now >= TTL_MS && m.comm[k].last < now - TTL_MS)
					m.comm[k].used = false;
			break;
		}
		if (cmmux_gid_count(r) != model_count(m.gid) ||
		    cmmux_commid_count(r) != model_count(m.comm))
			abort();
	}
	cmmux_router_free(r);
	return 0;
}
