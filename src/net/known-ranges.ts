/**
 * IP ranges known for spying on the Bitcoin network, flagged on sight by the
 * spy detector's default watch list, the metrics' IP lists, the relay
 * analytics and `collective list`.
 */

/** Published LinkingLion ranges (AS54098). */
export const LINKINGLION_RANGES = [
  { cidr: '162.218.65.0/24', label: 'AS54098' },
  { cidr: '209.222.252.0/24', label: 'AS54098' },
  { cidr: '91.198.115.0/24', label: 'AS54098' },
  { cidr: '2604:d500::/32', label: 'AS54098' },
];
