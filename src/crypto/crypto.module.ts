import { Module } from '@nestjs/common';
import { DbModule } from '../db/db.module.js';
import { DataKeyService } from './data-key.service.js';
import { KeyRing } from './key-ring.js';

@Module({ imports: [DbModule], providers: [KeyRing, DataKeyService], exports: [KeyRing, DataKeyService] })
export class CryptoModule {}
