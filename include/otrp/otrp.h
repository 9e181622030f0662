/**
 * \file otrp/otrp.h
 * \brief libotrp, an OTrP Agent library: include this one header.
 *
 * The library relays Open Trust Protocol messages between a Trusted Application Manager
 * (TAM) and the device's Trusted Execution Environments (TEEs). See agent.h for the API,
 * tee.h for writing a TEE backend, backends.h, mocktee.h and teec.h for the backends
 * that ship with the library, ta_protocol.h for the TEE side of the socket and GP transports,
 * status.h for statuses.
 */
#ifndef OTRP_OTRP_H
#define OTRP_OTRP_H

#include "version.h"
#include "common.h"
#include "status.h"
#include "tee.h"
#include "agent.h"
#include "backends.h"
#include "mocktee.h"
#include "teec.h"

#endif /* OTRP_OTRP_H */
