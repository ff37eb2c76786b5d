import { Module } from '@nestjs/common';
import { DbModule } from '../db/db.module.js';
import { MediaModule } from '../media/media.module.js';
import { PeersModule } from '../peers/peers.module.js';
import { MetricsModule } from '../observability/metrics.module.js';
import { GrpcServer } from './grpc-server.js';
import { MediaRpc } from './media.rpc.js';

/** The gRPC edge (proto/media.proto), beside the REST edge in the API role. */
@Module({
  imports: [MediaModule, DbModule, MetricsModule, PeersModule],
  providers: [MediaRpc, GrpcServer],
  exports: [GrpcServer],
})
export class GrpcModule {}
