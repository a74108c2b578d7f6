/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The applet table, sorted by name: dispatch, --list, --install, the man
 * pages and the bash completion are all made from it.
 * APPLET(id, name, summary): built; its file defines id_main and id_help
 * (its usage and option table, opts.h).
 * PLANNED(name, summary): named for later; running it exits 2. */
#ifndef MIGBOX_APPLETS_H
#define MIGBOX_APPLETS_H

#include "opts.h"

#define APPLET_TABLE(APPLET, PLANNED) \
	APPLET(multifd_recv, "multifd-recv", "receive a migration stream over QEMU multifd TCP channels") \
	APPLET(multifd_send, "multifd-send", "send a migration stream over QEMU multifd TCP channels") \
	APPLET(postcopy_serve, "postcopy-serve", "serve a saved stream to a postcopy destination") \
	APPLET(pvrdma_mux, "pvrdma-mux", "RDMA-CM MAD multiplexer for QEMU's pvrdma devices") \
	APPLET(rdma_recv, "rdma-recv", "receive a migration stream over QEMU's RDMA protocol") \
	APPLET(rdma_send, "rdma-send", "send a migration stream over QEMU's RDMA protocol") \
	APPLET(stream_dump, "stream-dump", "inspect, digest and validate a migration stream") \
	APPLET(stream_gen, "stream-gen", "generate a deterministic synthetic migration stream") \
	APPLET(vfio_dump, "vfio-dump", "save a VFIO device's state as a migration stream") \
	APPLET(vfio_load, "vfio-load", "restore a VFIO device's state from a migration stream")

/* The dispatcher's help for the running applet: prints its usage text
 * (exit 0, or 1 if stdout cannot take it). */
_Noreturn void applet_help(void);

#define APPLET_DECLARE(id, name, summary) \
	int id##_main(int argc, char **argv); \
	extern const struct applet_help id##_help;
#define PLANNED_DECLARE(name, summary)
APPLET_TABLE(APPLET_DECLARE, PLANNED_DECLARE)
#undef APPLET_DECLARE
#undef PLANNED_DECLARE

#endif
