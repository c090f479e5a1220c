/*
 * shmlock.c - the workers' shared lock (see shmlock.h).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>

#include "squidlike/shmlock.h"

int sl_shmlock_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int rc;

    if ((rc = pthread_mutexattr_init(&a)) != 0)
        return -rc;
    if ((rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) == 0 &&
        (rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) == 0)
        rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return -rc;
}

int sl_shmlock_lock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_lock(m);

    if (rc == 0)
        return 0;
    if (rc == EOWNERDEAD) {
        /* The holder died inside its section: what it guarded is as it
         * left it, and the users' state tolerates that (shmlock.h). */
        if (pthread_mutex_consistent(m) == 0)
            return 1;
        pthread_mutex_unlock(m);
        return -ENOTRECOVERABLE;
    }
    return -rc;
}

void sl_shmlock_unlock(pthread_mutex_t *m)
{
    pthread_mutex_unlock(m);
}
