/* SPDX-License-Identifier: GPL-3.0-or-later */
/* QEMU's migration stream ("QEVM", version 3): constants, a pull parser that
 * works from a pipe in bounded memory, and a writer.
 *
 * The parser hands out one item at a time (a section header, a RAM page, a
 * chunk of device data, ...). Pointers in an item stay valid until the next
 * call. Every length, count, name and offset is checked before use; on error
 * the reader's error text names the byte offset and what was expected. */
#ifndef MIGBOX_STREAM_H
#define MIGBOX_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iobuf.h"
#include "ram.h"

#define QEMU_VM_FILE_MAGIC		0x5145564dU	/* "QEVM" */
#define QEMU_VM_FILE_VERSION		0x00000003U
#define QEMU_VM_FILE_VERSION_COMPAT	0x00000002U

/* Section (record) types of the main stream. */
#define QEMU_VM_EOF			0x00
#define QEMU_VM_SECTION_START		0x01
#define QEMU_VM_SECTION_PART		0x02
#define QEMU_VM_SECTION_END		0x03
#define QEMU_VM_SECTION_FULL		0x04
#define QEMU_VM_SUBSECTION		0x05
#define QEMU_VM_VMDESCRIPTION		0x06
#define QEMU_VM_CONFIGURATION		0x07
#define QEMU_VM_COMMAND			0x08
#define QEMU_VM_SECTION_FOOTER		0x7e

/* Flags in the low bits of a RAM record's be64 header. */
#define RAM_SAVE_FLAG_FULL		0x01	/* obsolete */
#define RAM_SAVE_FLAG_ZERO		0x02
#define RAM_SAVE_FLAG_MEM_SIZE		0x04
#define RAM_SAVE_FLAG_PAGE		0x08
#define RAM_SAVE_FLAG_EOS		0x10
#define RAM_SAVE_FLAG_CONTINUE		0x20
#define RAM_SAVE_FLAG_XBZRLE		0x40
#define RAM_SAVE_FLAG_HOOK		0x80	/* RDMA registration point */
#define RAM_SAVE_FLAG_COMPRESS_PAGE	0x100
#define RAM_SAVE_FLAG_MULTIFD_FLUSH	0x200	/* QEMU 8.0+ */

/* Markers framing a vfio section body. */
#define VFIO_MIG_FLAG_END_OF_STATE	0xffffffffef100001ULL
#define VFIO_MIG_FLAG_DEV_CONFIG_STATE	0xffffffffef100002ULL
#define VFIO_MIG_FLAG_DEV_SETUP_STATE	0xffffffffef100003ULL
#define VFIO_MIG_FLAG_DEV_DATA_STATE	0xffffffffef100004ULL
/* QEMU 8.1+ with switchover-ack: the device's initial precopy data is all
 * sent; it ends an iterative section in END_OF_STATE's place */
#define VFIO_MIG_FLAG_DEV_INIT_DATA_SENT 0xffffffffef100005ULL

/* MIG_CMD_* values of a QEMU_VM_COMMAND record. */
#define MIG_CMD_OPEN_RETURN_PATH	1
#define MIG_CMD_PING			2
#define MIG_CMD_POSTCOPY_ADVISE		3
#define MIG_CMD_POSTCOPY_LISTEN		4
#define MIG_CMD_POSTCOPY_RUN		5
#define MIG_CMD_POSTCOPY_RAM_DISCARD	6
#define MIG_CMD_PACKAGED		7
#define MIG_CMD_ENABLE_COLO		8
#define MIG_CMD_POSTCOPY_RESUME		9
#define MIG_CMD_RECV_BITMAP		10
#define MIG_CMD_SWITCHOVER_START	11	/* machine types 10.0+ (send-switchover-start), length 0 */
#define MIG_CMD_MAX			MIG_CMD_SWITCHOVER_START

#define STREAM_IDSTR_MAX	256	/* u8 length + NUL */
#define STREAM_MAX_SECTIONS	8192
#define STREAM_VMDESC_MAX	(64u << 20)

/* What a section carries, known from its idstr. */
enum section_kind {
	SECTION_KIND_RAM,	/* "ram": page records */
	SECTION_KIND_VFIO,	/* "<device>/vfio": VFIO_MIG_FLAG_* framing */
	SECTION_KIND_OPAQUE,	/* a device whose layout only QEMU knows */
};

struct section_info {
	uint32_t index;		/* order of first appearance, 0.. */
	uint32_t id;
	uint32_t instance;
	uint32_t version;
	enum section_kind kind;
	char idstr[STREAM_IDSTR_MAX];
};

enum stream_item_type {
	SI_HEADER,		/* magic and version */
	SI_CONFIG,		/* configuration section: machine, uuid */
	SI_SECTION,		/* START/PART/END/FULL section header */
	SI_RAM_MEM_SIZE,	/* block list; the blocks are in reader->ram */
	SI_RAM_PAGE,		/* block, offset, data (page_size bytes) */
	SI_RAM_ZERO,		/* block, offset, fill byte */
	SI_RAM_HOOK,
	SI_RAM_MULTIFD_FLUSH,
	SI_RAM_EOS,		/* end of a RAM section body */
	SI_VFIO_TAG,		/* VFIO_MIG_FLAG_*; for DEV_DATA_STATE, size */
	SI_VFIO_DATA,		/* a chunk of the data following DEV_DATA_STATE */
	SI_OPAQUE,		/* a chunk of an opaque device body */
	SI_FOOTER,		/* section footer */
	SI_COMMAND,		/* QEMU_VM_COMMAND: cmd, data */
	SI_PACKAGE,		/* a chunk of a MIG_CMD_PACKAGED payload */
	SI_EOF,
	SI_VMDESC,		/* the JSON device description after EOF */
};

struct stream_item {
	enum stream_item_type type;
	uint64_t offset;		/* of the item's first byte */
	uint64_t end_offset;		/* just past its last byte */
	uint32_t version;		/* SI_HEADER */
	uint8_t section_type;		/* SI_SECTION */
	const struct section_info *section;	/* SI_SECTION..SI_FOOTER */
	struct ram_block *block;	/* SI_RAM_PAGE, SI_RAM_ZERO */
	uint64_t addr;			/* offset in block */
	uint8_t fill;			/* SI_RAM_ZERO */
	uint64_t tag;			/* SI_VFIO_TAG */
	uint64_t size;			/* SI_VFIO_TAG data size; SI_PACKAGE and
					 * a PACKAGED SI_COMMAND: the package's */
	uint16_t cmd;			/* SI_COMMAND */
	const unsigned char *data;	/* page, chunk, command data, raw config;
					 * NULL for a lazy mapped-ram page */
	size_t len;
	uint64_t file_offset;		/* SI_RAM_PAGE of a mapped-ram file: where
					 * the page is (0: not mapped-ram) */
	const struct stream_config *config;	/* SI_CONFIG */
};

struct stream_config {
	bool present;
	char machine[STREAM_IDSTR_MAX];
	bool has_uuid;
	unsigned char uuid[16];
	uint32_t target_page_bits;	/* 0: not sent (the default, 12) */
	uint32_t ncaps;
	char caps[16][STREAM_IDSTR_MAX];
	unsigned char *raw;		/* the whole section, for copying */
	size_t raw_len;
};

struct stream_reader;

/* Reader over an input buffer the caller owns. Every RAM block length is
 * a multiple of the target page size (QEMU's always are). */
struct stream_reader *stream_reader_new(struct in_buf *in);
void stream_reader_free(struct stream_reader *r);
/* 1: *it holds the next item; 0: the stream ended cleanly (after EOF and
 * the optional vmdesc); -1: error, see stream_error(). */
int stream_next(struct stream_reader *r, struct stream_item *it);
const char *stream_error(const struct stream_reader *r);
struct ram_list *stream_ram(struct stream_reader *r);
const struct stream_config *stream_config(const struct stream_reader *r);
uint32_t stream_page_size(const struct stream_reader *r);
/* A mapped-ram file (mapped_ram.h): its MEM_SIZE list is followed by
 * SI_RAM_PAGE for every stored page and SI_RAM_ZERO (fill 0) for every
 * other, block by block in page order, before the stream goes on (unless
 * STREAM_MAPPED_PAGES_SKIP). The input must be seekable (in_seekable()).
 * NULL when the stream is not mapped-ram, else the blocks' layouts by
 * block index, valid once SI_RAM_MEM_SIZE came. */
const struct mapped_ram_block *stream_mapped_ram(const struct stream_reader *r);

/* What a mapped-ram file's pages become; set before the block list is
 * read. */
enum stream_mapped_pages {
	STREAM_MAPPED_PAGES_READ,	/* items with their data (the default) */
	STREAM_MAPPED_PAGES_LAZY,	/* items without it (data NULL, file_offset
					 * set), for a consumer that reads them */
	STREAM_MAPPED_PAGES_SKIP,	/* no items: the stream goes on right after
					 * MEM_SIZE, for a consumer that finds the
					 * pages by stream_mapped_ram() itself */
};

void stream_reader_mapped_pages(struct stream_reader *r, enum stream_mapped_pages mode);
/* LAZY when lazy, else READ. */
void stream_reader_lazy_pages(struct stream_reader *r, bool lazy);
/* The configuration says capability name is on. */
bool stream_config_has_cap(const struct stream_config *cfg, const char *name);
/* Sections seen so far (each section_info's index is below this). */
uint32_t stream_section_count(const struct stream_reader *r);
/* The vmdesc JSON, once SI_VMDESC was returned (NUL-terminated). */
const char *stream_vmdesc(const struct stream_reader *r, size_t *len);

/* libvirt's save image (virsh save, managedsave): a header and the
 * domain XML before the stream. The reader steps over them (refusing a
 * save that never completed or a compressed one); stream offsets stay
 * file offsets. */
struct stream_libvirt_save {
	uint32_t version;	/* of libvirt's header: 1 or 2 */
	uint32_t data_len;	/* the domain XML and cookie after the header */
	bool was_running;	/* the domain ran when saved: restore runs it */
	uint64_t stream_offset;	/* where QEVM starts */
};

/* NULL unless the input began with libvirt's save header. */
const struct stream_libvirt_save *stream_libvirt_save(const struct stream_reader *r);

/* Writer. Errors are sticky in the output buffer. */
struct mapped_ram_out;

struct stream_writer {
	struct out_buf *out;
	const struct ram_block *last_block;	/* for RAM_SAVE_FLAG_CONTINUE */
	uint32_t page_size;
	/* Set: a mapped-ram file is written (the out_buf's fd a regular
	 * file from its start): the configuration gets the capability, the
	 * pages go to their places, HOOK and MULTIFD_FLUSH are dropped. */
	struct mapped_ram_out *mapped;
};

void stream_writer_init(struct stream_writer *w, struct out_buf *out,
			uint32_t page_size);
int stream_write_header(struct stream_writer *w);
int stream_write_config(struct stream_writer *w, const char *machine,
			const unsigned char *uuid);
/* A configuration as read, with the mapped-ram capability on exactly when
 * the writer writes mapped-ram. */
int stream_write_config_from(struct stream_writer *w, const struct stream_config *cfg);
int stream_write_section(struct stream_writer *w, uint8_t type,
			 const struct section_info *s);
int stream_write_footer(struct stream_writer *w, uint32_t section_id);
int stream_write_mem_size(struct stream_writer *w, const struct ram_list *ram);
int stream_write_page(struct stream_writer *w, const struct ram_block *b,
		      uint64_t addr, const void *data);
int stream_write_zero(struct stream_writer *w, const struct ram_block *b,
		      uint64_t addr, uint8_t fill);
/* The header of a PAGE or ZERO record (flags RAM_SAVE_FLAG_*), CONTINUE
 * as this writer's order wants, into h; returns its length. For a writer
 * of many pages that hands their data to writev itself. */
#define STREAM_PAGE_HEADER_MAX	(8 + 1 + 255)
size_t stream_page_header(struct stream_writer *w, const struct ram_block *b,
			  uint64_t addr, uint64_t flags,
			  unsigned char h[STREAM_PAGE_HEADER_MAX]);
int stream_write_ram_flag(struct stream_writer *w, uint64_t flag);
int stream_write_vfio_tag(struct stream_writer *w, uint64_t tag);
/* DEV_DATA_STATE, size and the data in one go. */
int stream_write_vfio_data(struct stream_writer *w, const void *p, size_t n);
int stream_write_command(struct stream_writer *w, uint16_t cmd,
			 const void *data, uint16_t len);
int stream_write_eof(struct stream_writer *w);
/* EOF, then the vmdesc the reader r saw, if any: the end of a stream
 * passed on. */
int stream_write_end(struct stream_writer *w, const struct stream_reader *r);
int stream_write_vmdesc(struct stream_writer *w, const char *json, size_t len);
/* Writes an item exactly as the reader returned it; RAM records are encoded
 * afresh (CONTINUE follows this writer's own order). */
int stream_write_item(struct stream_writer *w, const struct stream_item *it,
		      const struct ram_list *ram);

const char *stream_item_name(enum stream_item_type t);
const char *section_type_name(uint8_t type);
const char *vfio_tag_name(uint64_t tag);

#endif
