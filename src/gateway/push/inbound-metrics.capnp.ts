/**
 * exporter-proxy's Cap'n Proto schema, as capnpc-ts would generate it (there is no compiler in
 * the build): `struct InboundMetrics @0xfb4ded7f739d5651 { appName @0 :Text; data @1 :Text; }`.
 * No data section, two pointers; shared by the decoder and by clients (tests) that build messages.
 */

import { ObjectSize, Struct } from 'capnp-ts';

export const INBOUND_METRICS_FILE_ID = 0xfb4ded7f739d5651n;

export class InboundMetrics extends Struct {
  static override readonly _capnp = {
    displayName: 'InboundMetrics',
    // The struct's own id is not known without the compiler; capnp-ts uses it only for display.
    id: 'fb4ded7f739d5651',
    size: new ObjectSize(0, 2),
  };

  getAppName(): string {
    return Struct.getText(0, this);
  }
  setAppName(value: string): void {
    Struct.setText(0, value, this);
  }
  getData(): string {
    return Struct.getText(1, this);
  }
  setData(value: string): void {
    Struct.setText(1, value, this);
  }
  override toString(): string {
    return 'InboundMetrics_' + super.toString();
  }
}
