#!/usr/bin/python3
"""A python-bitcoinlib peer for the real-node tests: from SOURCE_IP it connects
to 127.0.0.1:PORT, does the version handshake, sends a ping (waits for the pong)
and a getaddr, prints "ready", keeps the connection open until its stdin closes,
then closes. Every message is built and parsed by python-bitcoinlib's own
serializer (Debian python3-bitcoinlib, run with /usr/bin/python3).

    /usr/bin/python3 python_peer.py PORT SOURCE_IP
"""
import socket
import sys

import bitcoin
from bitcoin.messages import MsgSerializable, msg_getaddr, msg_ping, msg_verack, msg_version

bitcoin.SelectParams('regtest')
port = int(sys.argv[1])
source = sys.argv[2]

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind((source, 0))
s.connect(('127.0.0.1', port))
f = s.makefile('rb')


def send(m):
    s.sendall(m.to_bytes())


def until(command):
    while True:
        m = MsgSerializable.stream_deserialize(f)
        if m is not None and m.command == command:
            return m


v = msg_version()
v.nVersion = 70016
v.nStartingHeight = 0
v.addrTo.ip = '127.0.0.1'
v.addrTo.port = port
v.strSubVer = b'/python-bitcoinlib-peer:0.1/'
send(v)
until(b'version')
until(b'verack')
send(msg_verack())
send(msg_ping(nonce=0x1234))
until(b'pong')
send(msg_getaddr())
print('ready', flush=True)
sys.stdin.read()
s.close()
