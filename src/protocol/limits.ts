/**
 * Bitcoin Core's limits, with the names Core gives them (net.h, net_processing.cpp,
 * protocol.h, bloom.h, blockfilter index). Every count-prefixed field is checked
 * against one of these before anything is allocated.
 */

/** net.h MAX_PROTOCOL_MESSAGE_LENGTH: larger headers disconnect the peer. */
export const MAX_PROTOCOL_MESSAGE_LENGTH = 4_000_000;
/** net_processing MAX_ADDR_TO_SEND: addr/addrv2 with more entries is misbehaviour. */
export const MAX_ADDR_TO_SEND = 1000;
/** protocol MAX_INV_SZ: inv/getdata/notfound entries. */
export const MAX_INV_SZ = 50_000;
/** net_processing MAX_HEADERS_RESULTS. */
export const MAX_HEADERS_RESULTS = 2000;
/** net_processing MAX_LOCATOR_SZ. */
export const MAX_LOCATOR_SZ = 101;
/** net.h MAX_SUBVERSION_LENGTH: the version message's user agent. */
export const MAX_SUBVERSION_LENGTH = 256;
/** netaddress MAX_ADDRV2_SIZE: the largest address BIP155 allows to be relayed. */
export const MAX_ADDRV2_SIZE = 512;
/** bloom.h MAX_BLOOM_FILTER_SIZE (bytes) and MAX_HASH_FUNCS. */
export const MAX_BLOOM_FILTER_SIZE = 36_000;
export const MAX_HASH_FUNCS = 50;
/** script MAX_SCRIPT_ELEMENT_SIZE: the largest filteradd element. */
export const MAX_SCRIPT_ELEMENT_SIZE = 520;
/** BIP157: cfheaders / cfcheckpt limits (MAX_GETCFHEADERS_SIZE, MAX_GETCFILTERS_SIZE). */
export const MAX_GETCFHEADERS_SIZE = 2000;
export const MAX_GETCFILTERS_SIZE = 1000;
/** reject: Core's old MAX_REJECT_MESSAGE_LENGTH, the limit of the reason field. */
export const MAX_REJECT_MESSAGE_LENGTH = 111;
/** BIP152 compact blocks carry at most this many short ids / prefilled / indexes (bounded by block weight). */
export const MAX_CMPCT_ITEMS = 4_000_000 / 6;
/** A tx or block cannot have more inputs/outputs than fit in a maximal message. */
export const MAX_TX_ITEMS = 4_000_000 / 9;
/** A script (scriptSig, scriptPubKey, witness item) cannot exceed a maximal message. */
export const MAX_SCRIPT_SIZE = MAX_PROTOCOL_MESSAGE_LENGTH;

/** net.h: a peer must complete the version handshake within this time (DEFAULT_PEER_CONNECT_TIMEOUT). */
export const HANDSHAKE_TIMEOUT_MS = 60_000;
/** net.h TIMEOUT_INTERVAL: no ping answer for this long and the peer is dropped. */
export const PING_TIMEOUT_MS = 20 * 60_000;
/** net_processing PING_INTERVAL. */
export const PING_INTERVAL_MS = 2 * 60_000;

/** Protocol versions (version.h / node/protocol_version.h). */
export const PROTOCOL_VERSION = 70016;
export const MIN_PEER_PROTO_VERSION = 31800;
export const SENDHEADERS_VERSION = 70012;
export const FEEFILTER_VERSION = 70013;
export const SHORT_IDS_BLOCKS_VERSION = 70014;
export const WTXID_RELAY_VERSION = 70016;

// Limits derived from the above for fields Core bounds only by the message size.
/** BIP152 indexes are uint16 in Core (DifferenceFormatter into uint16_t): at most 65535. */
export const MAX_BIP152_INDEX = 0xffff;
/** Items in one witness stack: each takes at least its one-byte length prefix. */
export const MAX_WITNESS_ITEMS = MAX_PROTOCOL_MESSAGE_LENGTH;
/** merkleblock hashes: 32 bytes each within one message. */
export const MAX_MERKLEBLOCK_HASHES = MAX_PROTOCOL_MESSAGE_LENGTH / 32;
/** cfcheckpt filter headers: 32 bytes each within one message. */
export const MAX_CFCHECKPT_HEADERS = MAX_PROTOCOL_MESSAGE_LENGTH / 32;
/** A reject message's `message` field is a command name (CMessageHeader::COMMAND_SIZE). */
export const MAX_REJECT_COMMAND_LENGTH = 12;
