/* The adapt_tensor pointers callers hold, and the records behind them.
 *
 * An activation's record lives in a slot of its context's arena, and after a
 * reset the same slot holds the record of a new activation: the address alone
 * cannot tell a released activation from the live one that took its place.
 * So the handle a caller gets is the record's address with the record's
 * generation (its context's reset count when it was made) folded into bits
 * the address leaves free, and a handle is accepted only if it is exactly the
 * handle the record has now, of a record made since the last reset.
 *
 * Slots are AD_SLOT_SIZE (128) bytes and aligned to it, so an address has its
 * 7 low bits clear. Bit 0 tells the handle's form:
 *  - wide (1), for a record below 2^48 on a 64-bit target (checked for each
 *    record; heap memory on x86-64 and AArch64 Linux always is): bits 1-6
 *    hold the generation's low 6 bits, bits 48-63 its next 16, a 22-bit tag;
 *  - narrow (0), for any other address: bits 1-6 hold the low 6 bits.
 * A released handle is mistaken for the live activation at its address only
 * when their generations agree in the tag, i.e. differ by a multiple of 2^22
 * resets (2^6 in the narrow form). Parameters persist and carry no tag: their
 * handle is their record's address.
 *
 * Every public function converts at its boundary; everything inside the
 * library works on records. */
#ifndef AD_CORE_HANDLE_H
#define AD_CORE_HANDLE_H

#include "adapt.h"

/* The handle of record `t` (NULL for NULL). */
adapt_tensor *ad_tensor_handle(const adapt_tensor *t);

/* The handle of activation or parameter `t` given to a caller, which may read
 * its gradient after backward: marks an activation so that backward keeps it. */
adapt_tensor *ad_tensor_hand_out(adapt_tensor *t);

/* The record behind `handle` into *t. INVALID_ARGUMENT for NULL or a pointer
 * that leads to no tensor, STATE for an activation released by
 * adapt_context_reset; the message names `fn` and the argument `what`. */
adapt_status ad_tensor_from_handle(adapt_tensor **t, const adapt_tensor *handle, const char *fn,
                                   const char *what);

#endif
