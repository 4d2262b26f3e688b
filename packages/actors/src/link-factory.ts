/**
 * `linkFor`: turns a received `RefDescriptor` into the link of the right transport — a
 * `PortLink` for a port route, a `SocketLink` for a socket route, or a `PortLink` on a fresh
 * in-thread channel when the socket route leads to an endpoint of this very thread (no need to
 * go through a socket to reach a neighbour). A further placement adds its route and link here.
 */
import type { Link } from './actor-ref.js';
import { PortLink } from './port-link.js';
import type { RefDescriptor } from './protocol.js';
import type { RefResolver } from './reconnecting-link.js';
import { SocketLink } from './socket-link.js';
import { wireNode } from './wire-node.js';

/** The link for a ref that arrived as `descriptor`. */
export function linkFor(descriptor: RefDescriptor, resolver: RefResolver): Link {
  const route = descriptor.route;
  if (route.via === 'port') return new PortLink(descriptor, resolver);
  const node = wireNode();
  const local = route.address !== null && route.address === node.address ? node.endpoint(descriptor.id) : null;
  if (local !== null && local.state !== 'stopped') {
    const incarnation = local.options.incarnation;
    return new PortLink({ ...descriptor, incarnation, route: { via: 'port', port: local.openPort(), address: route.address } }, resolver);
  }
  return new SocketLink(descriptor, resolver, node);
}
