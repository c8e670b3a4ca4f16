// Why a view refused its bytes. Views never throw on malformed input: attach()
// returns one of these (or undefined when the bytes are a valid header).
export type Invalid =
  | 'truncated' // fewer bytes than the header (or its declared length) needs
  | 'bad-version' // IPv4 version field is not 4
  | 'bad-header-length' // IPv4 IHL < 5, or beyond the bytes
  | 'bad-total-length' // IPv4 total length shorter than its header, or beyond the bytes
  | 'bad-length' // UDP length field shorter than 8, or beyond the bytes
  | 'bad-data-offset' // TCP data offset < 5, or beyond the bytes
  | 'bad-option' // an option runs past its header (or the region that holds it)
  | 'bad-magic' // DHCP: no magic cookie (99.130.83.99) after the BOOTP header
  | 'bad-option-length' // DHCP: a known option with a length it cannot have (a 3-byte lease time)
  | 'missing-end' // DHCP: the options end without an end option (255)
  | 'bad-hardware-length' // DHCP: hlen larger than the 16-byte chaddr field
  | 'unsupported'; // a valid header of a kind this view does not read (ARP for non-Ethernet/IPv4)
