#!/usr/bin/python3
"""Build P2P messages with python-bitcoinlib's own serializer and print one JSON
object per line: {"command", "hex" (the payload), "fields" (the values as
python-bitcoinlib holds them)}. test/protocol/interop.test.ts decodes each payload
with peer-observer's codec and compares field by field.

Run with the Debian interpreter: /usr/bin/python3 (package python3-bitcoinlib).
Deterministic: a fixed random seed.
"""
import io
import json
import random

import bitcoin
from bitcoin.core import (COutPoint, CTransaction, CTxIn, CTxInWitness, CTxOut, CTxWitness, CBlock, CBlockHeader,
                          CScriptWitness, b2lx)
from bitcoin.core.script import CScript
from bitcoin.messages import (msg_addr, msg_block, msg_getaddr, msg_getblocks, msg_getdata, msg_getheaders, msg_headers,
                              msg_inv, msg_mempool, msg_notfound, msg_ping, msg_pong, msg_tx, msg_verack, msg_version)
from bitcoin.net import CAddress, CInv

bitcoin.SelectParams('regtest')
rng = random.Random(20261123)


def payload(m):
    f = io.BytesIO()
    m.msg_ser(f)
    return f.getvalue().hex()


def emit(m, fields):
    print(json.dumps({'command': m.command.decode(), 'hex': payload(m), 'fields': fields}))


def rand_hash():
    return bytes(rng.getrandbits(8) for _ in range(32))


def caddr(ip, port, services, t=None):
    a = CAddress()
    if t is not None:
        a.nTime = t
    a.nServices = services
    a.ip = ip
    a.port = port
    return a


def addr_fields(a, with_time=True):
    d = {'services': str(a.nServices), 'ip': a.ip, 'port': a.port}
    if with_time:
        d['time'] = a.nTime
    return d


def tx_fields(tx):
    return {
        'version': tx.nVersion,
        'lockTime': tx.nLockTime,
        'txid': b2lx(tx.GetTxid()),
        'hash': b2lx(tx.GetHash()),
        'segwit': tx.has_witness(),
        'inputs': [{'prevTxid': b2lx(i.prevout.hash), 'prevIndex': i.prevout.n, 'scriptSig': bytes(i.scriptSig).hex(),
                    'sequence': i.nSequence} for i in tx.vin],
        'outputs': [{'value': str(o.nValue), 'scriptPubKey': bytes(o.scriptPubKey).hex()} for o in tx.vout],
        'witnesses': [[bytes(x).hex() for x in w.scriptWitness.stack] for w in tx.wit.vtxinwit] if tx.has_witness() else None,
    }


def header_fields(h):
    return {'version': h.nVersion, 'prevBlock': b2lx(h.hashPrevBlock), 'merkleRoot': b2lx(h.hashMerkleRoot), 'time': h.nTime,
            'bits': h.nBits, 'nonce': h.nNonce, 'hash': b2lx(h.GetHash())}


# version
v = msg_version(70016)
v.nServices = 1 | 8 | 1024
v.nTime = 1795463934
v.addrTo = caddr('203.0.113.7', 8333, 0)
v.addrFrom = caddr('2001:db8::42', 18444, 9)
v.nNonce = 0xfedcba9876543210
v.strSubVer = b'/python-bitcoinlib:interop/'
v.nStartingHeight = 110
v.fRelay = False
emit(v, {'version': v.nVersion, 'services': str(v.nServices), 'timestamp': str(v.nTime), 'receiver': addr_fields(v.addrTo, False),
         'sender': addr_fields(v.addrFrom, False), 'nonce': str(v.nNonce), 'userAgent': v.strSubVer.decode('latin1'),
         'startHeight': v.nStartingHeight, 'relay': bool(v.fRelay)})

emit(msg_verack(), {})
emit(msg_getaddr(), {})
emit(msg_mempool(), {})

for nonce in (0, 1, 0xffffffffffffffff, rng.getrandbits(64)):
    emit(msg_ping(nonce=nonce), {'nonce': str(nonce)})
    emit(msg_pong(nonce=nonce), {'nonce': str(nonce)})

# addr with IPv4 and IPv6 entries
m = msg_addr(70016)
ips = ['1.2.3.4', '255.255.255.255', '10.0.0.1', '::1', '2001:db8::1', 'fe80::1:2', '2a01:4f8:1:2::3']
for i in range(200):
    ip = ips[i] if i < len(ips) else '.'.join(str(rng.randrange(256)) for _ in range(4))
    a = caddr(ip, rng.randrange(1, 65536), rng.getrandbits(64), rng.getrandbits(32))
    a.protover = 70016
    m.addrs.append(a)
emit(m, {'entries': [addr_fields(a) for a in m.addrs]})

# inventory messages
for cls in (msg_inv, msg_getdata, msg_notfound):
    m = cls()
    for i in range(50):
        inv = CInv()
        inv.type = rng.choice([1, 2, 3, 4, 5, 0x40000001, 0x40000002])
        inv.hash = rand_hash()
        m.inv.append(inv)
    emit(m, {'items': [{'type': i.type, 'hash': b2lx(i.hash)} for i in m.inv]})

# locators
for cls in (msg_getheaders, msg_getblocks):
    m = cls(70016)
    m.locator.nVersion = 70016
    m.locator.vHave = [rand_hash() for _ in range(rng.randrange(1, 30))]
    m.hashstop = rand_hash()
    emit(m, {'version': m.locator.nVersion, 'locator': [b2lx(h) for h in m.locator.vHave], 'stop': b2lx(m.hashstop)})


def make_tx(segwit):
    vin = [CTxIn(COutPoint(rand_hash(), rng.randrange(0, 10)), CScript(bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 120)))),
                 rng.getrandbits(32)) for _ in range(rng.randrange(1, 5))]
    vout = [CTxOut(rng.randrange(0, 21_000_000 * 100_000_000), CScript(bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 40)))))
            for _ in range(rng.randrange(1, 5))]
    wit = CTxWitness()
    if segwit:
        wit = CTxWitness([CTxInWitness(CScriptWitness([bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 80)))
                                                       for _ in range(rng.randrange(0, 4))])) for _ in vin])
        if wit.is_null():
            wit = CTxWitness([CTxInWitness(CScriptWitness([b'\x01']))] + list(wit.vtxinwit[1:]))
    return CTransaction(vin, vout, rng.getrandbits(32), 2, wit)


txs = [make_tx(False), make_tx(True), make_tx(True), make_tx(False)]
for t in txs:
    m = msg_tx()
    m.tx = t
    emit(m, tx_fields(t))

# headers: a chain of three
prev = b'\x00' * 32
hs = []
for i in range(3):
    h = CBlockHeader(nVersion=0x20000000 + i, hashPrevBlock=prev, hashMerkleRoot=rand_hash(), nTime=1795463934 + 600 * i,
                     nBits=0x207fffff, nNonce=rng.getrandbits(32))
    hs.append(h)
    prev = h.GetHash()
m = msg_headers()
m.headers = hs
emit(m, {'headers': [header_fields(h) for h in hs]})

# block with a coinbase-like tx and the txs above
blk = CBlock(nVersion=0x20000000, hashPrevBlock=prev, nTime=1795465000, nBits=0x207fffff, nNonce=7, vtx=txs)
blk = CBlock(nVersion=blk.nVersion, hashPrevBlock=blk.hashPrevBlock, hashMerkleRoot=blk.calc_merkle_root(), nTime=blk.nTime,
             nBits=blk.nBits, nNonce=blk.nNonce, vtx=txs)
m = msg_block()
m.block = blk
emit(m, {'header': header_fields(blk.get_header()), 'txs': [tx_fields(t) for t in blk.vtx]})
