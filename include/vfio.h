/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A VFIO device opened through the legacy container/group interface with a
 * type1 IOMMU, and the kernel's VFIO migration v2 uAPI on it. Functions
 * return -1 with the reason (the step and errno text) in dev->err. */
#ifndef MIGBOX_VFIO_H
#define MIGBOX_VFIO_H

#include <stdbool.h>
#include <stdint.h>

/* Debian's 6.1 uAPI headers predate these (kernel 6.2+). */
#include <linux/vfio.h>
#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY		(1 << 2)
#endif
#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
#endif
#ifndef VFIO_MIG_GET_PRECOPY_INFO
#define VFIO_MIG_GET_PRECOPY_INFO	_IO(VFIO_TYPE, VFIO_BASE + 21)
#endif
/* enum vfio_device_mig_state gained these with PRE_COPY */
#define MIG_STATE_PRE_COPY		6
#define MIG_STATE_PRE_COPY_P2P		7

struct vfio_dev {
	char name[128];		/* as given: PCI address or mdev UUID */
	char sysfs[256];	/* its sysfs directory */
	int group_id;
	int container_fd;
	int group_fd;
	int device_fd;
	char err[512];
};

/* Opens the device; on failure nothing stays open. */
int vfio_dev_open(struct vfio_dev *d, const char *name);
void vfio_dev_close(struct vfio_dev *d);

/* VFIO_MIGRATION_* flags; -1 (errno ENOTTY) if no migration support. */
int vfio_mig_flags(struct vfio_dev *d, uint64_t *flags);
int vfio_mig_get_state(struct vfio_dev *d, uint32_t *state);
/* Moves to state; *data_fd gets the new data fd or -1 if the kernel gave
 * none (data_fd may be NULL when none is expected). */
int vfio_mig_set_state(struct vfio_dev *d, uint32_t state, int *data_fd);
/* The device's estimate of its STOP_COPY data. */
int vfio_mig_data_size(struct vfio_dev *d, uint64_t *bytes);
int vfio_precopy_info(struct vfio_dev *d, int data_fd, uint64_t *initial,
		      uint64_t *dirty);
int vfio_dev_reset(struct vfio_dev *d);
/* Back to RUNNING after a failure: the transition, else a reset. Returns
 * 0 if the device ends RUNNING. */
int vfio_dev_recover(struct vfio_dev *d);

const char *vfio_state_name(uint32_t state);

#endif
