/**
 * \file otrp/otrp.h
 * \brief libotrp, an OTrP Agent library: include this one header.
 *
 * The library relays Open Trust Protocol messages between a Trusted Application Manager
 * (TAM) and the device's Trusted Execution Environments (TEEs). See agent.h for the API,
 * tee.h for writing a TEE backend, backends.h and teec.h for the backends that ship with
 * the library (socket, teec), ta_protocol.h for the TEE side of the socket and GP
 * transports, status.h for statuses. Link: `pkg-config --cflags --libs otrp` (cJSON and
 * libcurl; no crypto library: the agent holds no keys and verifies nothing).
 *
 * The mock TEE (an OTrP TEE in software, for development and tests) is not part of this
 * library nor of this header: it is libotrp-mocktee, with its own header otrp/mocktee.h
 * (`pkg-config --cflags --libs otrp-mocktee`), so that a device build links no software
 * TEE and no mbedTLS.
 */
#ifndef OTRP_OTRP_H
#define OTRP_OTRP_H

#include "version.h"
#include "common.h"
#include "status.h"
#include "tee.h"
#include "agent.h"
#include "session.h"
#include "backends.h"
#include "teec.h"

#endif /* OTRP_OTRP_H */
