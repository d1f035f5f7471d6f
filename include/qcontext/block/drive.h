/*
 * block/drive.h - "drive": a user-creatable object that owns a BlockBackend.
 *
 *   -drive file=PATH,id=ID[,format=raw][,aio=threads|native|io_uring]
 *          [,cache=writeback|none][,readonly=on|off][,discard=ignore|unmap]
 *   -drive id=ID,format=null,size=SIZE[,latency-ns=N][,readonly=on|off]
 *
 * `-drive ARGS` is `-object drive,ARGS`; QMP object-add with qom-type
 * "drive" creates one too.  All properties are construct-only.  A device
 * refers to a drive with a link property of type DRIVE_TYPE ("drive=ID"),
 * gets its BlockBackend with drive_get_blk(), and submits from its queues'
 * contexts.  Deleting a drive that a device links to is refused by the
 * devices' deletion veto; the backend is closed when the drive is
 * finalized.  See docs/block.md.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef BLOCK_DRIVE_H
#define BLOCK_DRIVE_H

#include "qcontext/block/block.h"
#include "qcontext/qom/object.h"

G_BEGIN_DECLS

/** The GType of "drive". */
#define DRIVE_TYPE (drive_get_type())
/** The drive object (`-drive`, `-object drive`): a BlockBackend with an id. */
G_DECLARE_FINAL_TYPE(Drive, drive, BLOCK, DRIVE, QomObject)

/** The formats ("format" property). */
typedef enum {
    DRIVE_FORMAT_RAW,  /**< "raw": a file or block device */
    DRIVE_FORMAT_NULL, /**< "null": no file; reads return zeroes */
} DriveFormat;

/**
 * drive_get_blk: the backend of a completed @drive (borrowed: valid while
 * the caller holds a reference on @drive).
 */
BlockBackend *drive_get_blk(Drive *drive);

/**
 * drive_find: the drive with @id in the "objects" container, as a new
 * reference (g_object_unref() it), or NULL with @errp set ("no drive
 * 'ID'" / "'ID' is not a drive").  Any thread.
 */
Drive *drive_find(const char *id, GError **errp);

/**
 * drive_help: the text of `-drive help` (the drive's options with their
 * types, defaults and descriptions).  Free with g_free().
 */
char *drive_help(void);

/**
 * block_register_types: register "drive" with the object layer.
 * Idempotent; call after qcontext_register_types() and before parsing
 * -drive / -object options.
 */
void block_register_types(void);

G_END_DECLS

#endif /* BLOCK_DRIVE_H */
