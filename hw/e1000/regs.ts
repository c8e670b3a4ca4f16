// The Intel 8254x (e1000) register file as the datasheet numbers it: byte offsets in
// BAR0 and the bits the emulated device implements. Offsets are bytes; the register
// window is an Int32Array, so word index = offset >> 2.

/** Size of the memory-mapped register window (BAR0 of the 82540EM: 128 KiB). */
export const BAR0_BYTES = 128 * 1024;

// General
export const CTRL = 0x0000;
export const STATUS = 0x0008;
export const EECD = 0x0010;
export const EERD = 0x0014;
export const CTRL_EXT = 0x0018;
export const MDIC = 0x0020;
export const VET = 0x0038;

// Interrupts
export const ICR = 0x00c0;
export const ITR = 0x00c4;
export const ICS = 0x00c8;
export const IMS = 0x00d0;
export const IMC = 0x00d8;

// Receive
export const RCTL = 0x0100;
export const RDBAL = 0x2800;
export const RDBAH = 0x2804;
export const RDLEN = 0x2808;
export const RDH = 0x2810;
export const RDT = 0x2818;
/** Receive delay timer and absolute delay: accepted, not modelled (RXT0 is raised at once). */
export const RDTR = 0x2820;
export const RADV = 0x282c;

// Transmit
export const TCTL = 0x0400;
export const TIPG = 0x0410;
export const TDBAL = 0x3800;
export const TDBAH = 0x3804;
export const TDLEN = 0x3808;
export const TDH = 0x3810;
export const TDT = 0x3818;
/** Transmit interrupt delay: accepted, not modelled (TXDW is raised at once). */
export const TIDV = 0x3820;

// Address filters
/** Multicast table array: 128 words, 4096 bits, indexed by a 12-bit hash of the address. */
export const MTA = 0x5200;
export const MTA_WORDS = 128;
/** Receive address low/high n (n = 0..15): RAL(n) = 0x5400 + 8n, RAH(n) = 0x5404 + 8n. */
export const RAL0 = 0x5400;
export const RAH0 = 0x5404;
export const RECEIVE_ADDRESSES = 16;
export const ral = (n: number): number => RAL0 + 8 * n;
export const rah = (n: number): number => RAH0 + 8 * n;

// Statistics (0x4000-0x40FF): all clear when read; a 64-bit pair clears when its high half is read.
export const STATS_FIRST = 0x4000;
export const STATS_LAST = 0x40fc;
export const CRCERRS = 0x4000;
export const ALGNERRC = 0x4004;
export const SYMERRS = 0x4008;
export const RXERRC = 0x400c;
export const MPC = 0x4010;
export const SCC = 0x4014;
export const ECOL = 0x4018;
export const MCC = 0x401c;
export const LATECOL = 0x4020;
export const COLC = 0x4028;
export const DC = 0x4030;
export const TNCRS = 0x4034;
export const SEC = 0x4038;
export const CEXTERR = 0x403c;
export const RLEC = 0x4040;
export const XONRXC = 0x4048;
export const XONTXC = 0x404c;
export const XOFFRXC = 0x4050;
export const XOFFTXC = 0x4054;
export const FCRUC = 0x4058;
export const PRC64 = 0x405c;
export const PRC127 = 0x4060;
export const PRC255 = 0x4064;
export const PRC511 = 0x4068;
export const PRC1023 = 0x406c;
export const PRC1522 = 0x4070;
export const GPRC = 0x4074;
export const BPRC = 0x4078;
export const MPRC = 0x407c;
export const GPTC = 0x4080;
export const GORCL = 0x4088;
export const GORCH = 0x408c;
export const GOTCL = 0x4090;
export const GOTCH = 0x4094;
export const RNBC = 0x40a0;
export const RUC = 0x40a4;
export const RFC = 0x40a8;
export const ROC = 0x40ac;
export const RJC = 0x40b0;
export const TORL = 0x40c0;
export const TORH = 0x40c4;
export const TOTL = 0x40c8;
export const TOTH = 0x40cc;
export const TPR = 0x40d0;
export const TPT = 0x40d4;
export const PTC64 = 0x40d8;
export const PTC127 = 0x40dc;
export const PTC255 = 0x40e0;
export const PTC511 = 0x40e4;
export const PTC1023 = 0x40e8;
export const PTC1522 = 0x40ec;
export const MPTC = 0x40f0;
export const BPTC = 0x40f4;

/** The high halves of the 64-bit statistics pairs (reading one clears the pair). */
export const STATS_HIGH_HALVES: readonly number[] = [GORCH, GOTCH, TORH, TOTH];
/** The low halves: reading one does not clear (read low, then high). */
export const STATS_LOW_HALVES: readonly number[] = [GORCL, GOTCL, TORL, TOTL];

export function isStatistic(offset: number): boolean {
  return offset >= STATS_FIRST && offset <= STATS_LAST;
}

// CTRL bits
export const CTRL_FD = 1 << 0;
export const CTRL_LRST = 1 << 3;
export const CTRL_ASDE = 1 << 5;
export const CTRL_SLU = 1 << 6;
export const CTRL_RST = 1 << 26;
export const CTRL_VME = 1 << 30;
export const CTRL_PHY_RST = 1 << 31;

// STATUS bits
export const STATUS_FD = 1 << 0;
export const STATUS_LU = 1 << 1;
export const STATUS_TXOFF = 1 << 4;
/** SPEED (bits 7:6) = 10b: 1000 Mb/s. */
export const STATUS_SPEED_1000 = 2 << 6;

// MDIC: the MDI control register, the driver's window on the PHY's registers
export const MDIC_DATA_MASK = 0xffff;
export const MDIC_REG_SHIFT = 16;
export const MDIC_PHY_SHIFT = 21;
export const MDIC_OP_WRITE = 1 << 26;
export const MDIC_OP_READ = 2 << 26;
export const MDIC_READY = 1 << 28;
export const MDIC_INT_EN = 1 << 29;
export const MDIC_ERROR = 1 << 30;
/** The internal PHY's address on the MDI bus. */
export const PHY_ADDRESS = 1;
// PHY registers (IEEE 802.3 clause 22) and the bits the model uses.
export const PHY_CTRL = 0;
export const PHY_STATUS = 1;
export const PHY_ID1 = 2;
export const PHY_ID2 = 3;
export const PHY_AUTONEG_ADV = 4;
export const PHY_LP_ABILITY = 5;
export const PHY_1000T_CTRL = 9;
export const PHY_1000T_STATUS = 10;
export const PHY_CTRL_RESET = 1 << 15;
export const PHY_STATUS_LINK = 1 << 2;
export const PHY_STATUS_AUTONEG_DONE = 1 << 5;

// EECD bits
/** An EEPROM is present. */
export const EECD_EE_PRES = 1 << 8;

// EERD (82540/82545/82546 layout)
export const EERD_START = 1 << 0;
export const EERD_DONE = 1 << 4;
export const EERD_ADDR_SHIFT = 8;
export const EERD_ADDR_MASK = 0xff << EERD_ADDR_SHIFT;
export const EERD_DATA_SHIFT = 16;

// Interrupt cause bits (ICR, ICS, IMS, IMC)
export const INT_TXDW = 1 << 0;
export const INT_TXQE = 1 << 1;
export const INT_LSC = 1 << 2;
export const INT_RXSEQ = 1 << 3;
export const INT_RXDMT0 = 1 << 4;
export const INT_RXO = 1 << 6;
export const INT_RXT0 = 1 << 7;
export const INT_MDAC = 1 << 9;
export const INT_RXCFG = 1 << 10;
export const INT_PHYINT = 1 << 12;
export const INT_GPI_SDP6 = 1 << 13;
export const INT_GPI_SDP7 = 1 << 14;
export const INT_TXD_LOW = 1 << 15;
export const INT_SRPD = 1 << 16;
/** Every cause bit the 8254x defines; ICS and IMS ignore the others. */
export const INT_ALL = 0x1f6df;

/** ITR: the interval, bits 15:0, in units of 256 ns. */
export const ITR_INTERVAL_MASK = 0xffff;
export const ITR_UNIT_NS = 256;

// RCTL bits
export const RCTL_EN = 1 << 1;
export const RCTL_SBP = 1 << 2;
export const RCTL_UPE = 1 << 3;
export const RCTL_MPE = 1 << 4;
export const RCTL_LPE = 1 << 5;
export const RCTL_LBM_MASK = 3 << 6;
export const RCTL_RDMTS_SHIFT = 8;
export const RCTL_RDMTS_MASK = 3 << RCTL_RDMTS_SHIFT;
export const RCTL_MO_SHIFT = 12;
export const RCTL_MO_MASK = 3 << RCTL_MO_SHIFT;
export const RCTL_BAM = 1 << 15;
export const RCTL_BSIZE_SHIFT = 16;
export const RCTL_BSIZE_MASK = 3 << RCTL_BSIZE_SHIFT;
export const RCTL_BSIZE_2048 = 0 << RCTL_BSIZE_SHIFT;
export const RCTL_BSIZE_1024 = 1 << RCTL_BSIZE_SHIFT;
export const RCTL_BSIZE_512 = 2 << RCTL_BSIZE_SHIFT;
export const RCTL_BSIZE_256 = 3 << RCTL_BSIZE_SHIFT;
export const RCTL_VFE = 1 << 18;
export const RCTL_BSEX = 1 << 25;
export const RCTL_SECRC = 1 << 26;

/** Receive buffer size in bytes for an RCTL value (0 for the reserved BSEX=1, BSIZE=00 encoding). */
export function rxBufferSize(rctl: number): number {
  const code = (rctl & RCTL_BSIZE_MASK) >>> RCTL_BSIZE_SHIFT;
  if ((rctl & RCTL_BSEX) === 0) return 2048 >>> code;
  return code === 0 ? 0 : 32768 >>> code;
}

// TCTL bits
export const TCTL_EN = 1 << 1;
export const TCTL_PSP = 1 << 3;
export const TCTL_CT_SHIFT = 4;
export const TCTL_COLD_SHIFT = 12;

// RAH bits
/** Address valid: the entry takes part in filtering. */
export const RAH_AV = 1 << 31;
export const RAH_AS_MASK = 3 << 16;

/** RDLEN/TDLEN: bits 19:7 hold the ring length in bytes (a multiple of 128). */
export const DLEN_MASK = 0x000f_ff80;
/** RDBAL/TDBAL: bits 3:0 are ignored (descriptor rings are 16-byte aligned). */
export const DBAL_MASK = 0xffff_fff0 | 0;

/**
 * Registers' values after power-up and after CTRL.RST (besides RAL0/RAH0, loaded from
 * the EEPROM). Anything not listed is 0, the multicast table included (on the real
 * part it is undefined after reset; a driver clears it either way). Registers that
 * only tune the wire (TIPG, collision settings in TCTL) read back what was written.
 */
export const RESET_VALUES: ReadonlyMap<number, number> = new Map([
  [CTRL, CTRL_FD | CTRL_ASDE],
  [STATUS, STATUS_FD | STATUS_SPEED_1000],
  [EECD, EECD_EE_PRES],
  [VET, 0x8100],
]);
