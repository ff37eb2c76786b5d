import { Global, Module } from '@nestjs/common';
import { DataKeyService } from './data-key.service.js';
import { KeyRing } from './key-ring.js';

@Global()
@Module({ providers: [KeyRing, DataKeyService], exports: [KeyRing, DataKeyService] })
export class CryptoModule {}
