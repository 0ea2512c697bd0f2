// Capture recipe for test/golden/ack-ext-policy.hex (run as root in a fresh namespace, after npm run build):
//   ip netns add x; ip netns exec x node scripts/capture-extack.mjs; ip netns del x
// Sends a ctnetlink create whose CTA_TIMEOUT is 2 bytes (policy: NLA_U32) with NETLINK_EXT_ACK on,
// and prints the kernel's raw NLMSG_ERROR reply as hex.
import { NativeSocket, netlinkSockaddr, SOCK } from '../dist/src/native/socket.js';
import { encodeMessage } from '../dist/src/netlink/message.js';
const s = NativeSocket.open(16, SOCK.RAW, 12);
s.bind(netlinkSockaddr(0, 0));
s.setsockoptInt(270, 10, 1); // NETLINK_CAP_ACK
s.setsockoptInt(270, 11, 1); // NETLINK_EXT_ACK
// nfgenmsg AF_INET v0 res 0, then CTA_TIMEOUT (7) with a 2-byte payload
const body = Uint8Array.from([2, 0, 0, 0, 6, 0, 7, 0, 0, 30, 0, 0]);
s.send(encodeMessage(0x0100, 0x0001 | 0x0004 | 0x0400 | 0x0200, 1234, 0, body));
let r = null;
for (let i = 0; i < 100 && r === null; i++) { r = s.recvSync(65536); if (r === null) await new Promise((x) => setTimeout(x, 10)); }
console.log(Buffer.from(r).toString('hex'));
s.close();
