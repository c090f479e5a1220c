/*
 * notify.h - systemd's readiness protocol (sd_notify(3)), without
 * libsystemd: one datagram to $NOTIFY_SOCKET when it is set.
 */
#ifndef SL_NOTIFY_H
#define SL_NOTIFY_H

/* Send msg ("READY=1\nMAINPID=123"); nothing without NOTIFY_SOCKET.
 * Returns 0, or -errno (logged by the caller if it cares). */
int sl_notify(const char *msg);

#endif
