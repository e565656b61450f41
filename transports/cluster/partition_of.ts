import { fnv1a32 } from './fnv1a.js';

/**
 * The partition nats-server's subject mapping `{{partition(n,1)}}` gives a device: FNV-1a (32 bit)
 * of the device token, modulo n. Workers never need it to route (the server maps MQTT publishes);
 * tools use it to say which partition, and so which worker, holds a device.
 */
export function partitionOf(device: string, partitions: number): number {
  return fnv1a32(device) % partitions;
}
