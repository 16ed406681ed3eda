/** The replay source: pcap files of Bitcoin P2P traffic played back as observer events. */
export { pcapEvents, DEFAULT_PCAP_LIMITS, type PcapReplay, type PcapReplayLimits, type PcapReplayOptions, type PcapStats } from './pcap.js';
export { PcapFormatError, PcapReader, parsePcapHeader, type PcapHeader, type PcapReadProblem, type PcapRecord } from './pcap-file.js';
export { LINKTYPE, parsePacket, type TcpSegment } from './packet.js';
export { StreamReassembler, type StreamChunk, type ReorderLimits } from './reassembly.js';
