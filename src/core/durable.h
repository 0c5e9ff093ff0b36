/* Durable file system steps shared by the back ends that store mail
 * (outbox, queue): a rename or an unlink survives a crash only once the
 * directory holding it has been fsynced. Blocking: call from the thread
 * pool or at start-up. */
#ifndef SESRELAY_DURABLE_H
#define SESRELAY_DURABLE_H

/* fsync(2) the directory itself. 0 or -errno. */
int durable_fsync_dir(const char *dir);

#endif
