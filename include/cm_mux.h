/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The RDMA-CM MAD multiplexer of QEMU's pvrdma devices (rdmacm-mux): the
 * message QEMU and the mux exchange over a UNIX stream socket, and the
 * tables that route CM MADs from the port to the client (QEMU) that owns
 * the destination.
 *
 * Message: one 360-byte struct each way, integers in host byte order
 * (QEMU's layout on x86-64):
 *   0 msg_type (REQ 0, RESP 1) | 4 op_code (REG 0, UNREG 1, MAD 2) |
 *   8 sgid[16] (the mux uses bytes 8..15, the interface id) |
 *   24 err_code | 28 pad | 32 umad_len | 36 struct ib_user_mad (64 bytes:
 *   agent_id, status, timeout_ms, retries, length, ib_mad_addr) |
 *   100 mad[256] | 356 pad
 *
 * Routing of a MAD from the port (after its 24-byte common header, "data"):
 *   REQ: the interface id at data+80 (primary remote port GID, low half),
 *   SIDR_REQ: at data+44; not registered: the same with bytes 2..3 ff ff
 *   (an IPv4-mapped GID). REP, REJ, RTU, DREQ, DREP, MRA, LAP, APR: the
 *   comm id at data+4 (the remote comm id: the one our client chose),
 *   SIDR_REP: the request id at data+0. Comm ids are learned from the MADs
 *   a client sends (its own comm id at data+0) and forgotten after a while
 *   without traffic. */
#ifndef MIGBOX_CM_MUX_H
#define MIGBOX_CM_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMMUX_MSG_SIZE		360
#define CMMUX_MAD_MAX		256
#define CMMUX_MAD_HDR		24	/* the common MAD header */
#define CMMUX_CLASS_CM		0x07
#define CMMUX_CLASS_VERSION	2

enum cmmux_msg_type { CMMUX_REQ = 0, CMMUX_RESP = 1 };
enum cmmux_op { CMMUX_OP_REG = 0, CMMUX_OP_UNREG = 1, CMMUX_OP_MAD = 2 };
enum cmmux_err {
	CMMUX_OK = 0,
	CMMUX_EINVAL = 1,
	CMMUX_EEXIST = 2,
	CMMUX_EACCES = 3,
	CMMUX_ENOTFOUND = 4,
};

/* struct ib_user_mad's header (the kernel's ABI, libibumad's
 * ib_user_mad_t), byte for byte. */
struct cmmux_umad {
	uint32_t agent_id;
	uint32_t status;
	uint32_t timeout_ms;
	uint32_t retries;
	uint32_t length;
	uint32_t qpn;			/* big endian, as all addr fields */
	uint32_t qkey;
	uint16_t lid;
	uint8_t sl, path_bits, grh_present, gid_index, hop_limit, traffic_class;
	uint8_t gid[16];
	uint32_t flow_label;
	uint16_t pkey_index;
	uint8_t reserved[6];
};

struct cmmux_msg {
	uint32_t msg_type;
	uint32_t op_code;
	uint8_t sgid[16];
	uint32_t err_code;
	uint32_t pad0;
	int32_t umad_len;
	struct cmmux_umad umad;
	uint8_t mad[CMMUX_MAD_MAX];
	uint32_t pad1;
};

_Static_assert(sizeof(struct cmmux_umad) == 64, "ib_user_mad header is 64 bytes");
_Static_assert(sizeof(struct cmmux_msg) == CMMUX_MSG_SIZE, "RdmaCmMuxMsg is 360 bytes");
_Static_assert(__builtin_offsetof(struct cmmux_msg, sgid) == 8, "sgid at 8");
_Static_assert(__builtin_offsetof(struct cmmux_msg, err_code) == 24, "err_code at 24");
_Static_assert(__builtin_offsetof(struct cmmux_msg, umad_len) == 32, "umad_len at 32");
_Static_assert(__builtin_offsetof(struct cmmux_msg, umad) == 36, "umad at 36");
_Static_assert(__builtin_offsetof(struct cmmux_msg, umad.gid) == 72, "umad.addr.gid at 72");
_Static_assert(__builtin_offsetof(struct cmmux_msg, mad) == 100, "mad at 100");

/* The interface id (bytes 8..15 of a GID) as the 8 bytes in memory. */
static inline uint64_t cmmux_ifid(const uint8_t gid[16])
{
	uint64_t v;

	__builtin_memcpy(&v, gid + 8, 8);
	return v;
}

const char *cmmux_op_name(uint32_t op);
const char *cmmux_err_name(uint32_t err);
/* The CM attribute's name ("REQ"), or NULL. */
const char *cmmux_attr_name(uint16_t attr);
/* The attribute of a MAD of len bytes (0 if too short). */
uint16_t cmmux_mad_attr(const uint8_t *mad, size_t len);

/* ---- the routing tables ---- */

struct cmmux_limits {
	uint32_t gids;			/* registered interface ids, all clients */
	uint32_t commids;		/* learned comm ids */
	uint64_t commid_ttl_ms;		/* forgotten after this long unused */
	uint32_t clients;		/* client numbers are 0..clients-1 */
	uint32_t gids_per_client;	/* so that one client cannot take all */
	uint32_t commids_per_client;
};

#define CMMUX_NO_CLIENT		UINT32_MAX

struct cmmux_router;

struct cmmux_router *cmmux_router_new(const struct cmmux_limits *lim);
void cmmux_router_free(struct cmmux_router *r);

/* REG / UNREG of interface id ifid by client: the err_code to answer.
 * REG: EEXIST if client has it, EACCES if another has, EINVAL if the
 * table or the client's share of it is full (*full set). UNREG:
 * ENOTFOUND, EACCES if another's. */
enum cmmux_err cmmux_reg(struct cmmux_router *r, uint32_t client, uint64_t ifid, bool *full);
enum cmmux_err cmmux_unreg(struct cmmux_router *r, uint32_t client, uint64_t ifid);
/* Forgets everything of client; returns how many ids it had. */
uint32_t cmmux_drop_client(struct cmmux_router *r, uint32_t client);

/* ifid is client's: registered by it, as is or as ::ffff:a.b.c.d. */
bool cmmux_owns_gid(const struct cmmux_router *r, uint32_t client, uint64_t ifid);

/* What learning a MAD's comm id gave. */
enum cmmux_learned {
	CMMUX_LEARNED,		/* remembered, or nothing to remember */
	CMMUX_TABLE_FULL,	/* the table or the client's share: the MAD may go */
	CMMUX_ID_TAKEN,		/* another live client's comm id: refuse the MAD */
};

/* A MAD client sends (its GID's interface id ifid): learns its comm id,
 * which stays its first owner's while that client lives. */
enum cmmux_learned cmmux_learn(struct cmmux_router *r, uint32_t client, uint64_t ifid,
			       const uint8_t *mad, size_t len, uint64_t now_ms);

struct cmmux_route {
	uint32_t client;		/* CMMUX_NO_CLIENT: dropped */
	uint64_t ifid;			/* what goes into the message's sgid */
	uint16_t attr;
	uint32_t comm_id;		/* what it was routed by, if a comm id */
	bool by_gid, fallback;		/* routed by GID; through ::ffff */
	const char *why;		/* dropped: the reason */
};

/* Where a MAD from the port of len bytes goes. */
void cmmux_route_mad(struct cmmux_router *r, const uint8_t *mad, size_t len, uint64_t now_ms,
		     struct cmmux_route *out);
/* Forgets comm ids unused for the TTL; returns how many. */
uint32_t cmmux_expire(struct cmmux_router *r, uint64_t now_ms);

/* For the console and the stats: every entry, by callback. */
uint32_t cmmux_gid_count(const struct cmmux_router *r);
uint32_t cmmux_commid_count(const struct cmmux_router *r);
void cmmux_each_gid(const struct cmmux_router *r,
		    void (*fn)(void *ctx, uint64_t ifid, uint32_t client), void *ctx);
void cmmux_each_commid(const struct cmmux_router *r,
		       void (*fn)(void *ctx, uint32_t comm_id, uint32_t client, uint64_t ifid,
				  uint64_t last_ms),
		       void *ctx);

#endif
