import { OFFICE_SETTINGS, registryModifications } from '../../src/processing/document/office';

describe('the LibreOffice profile settings', () => {
  it('block untrusted links (remote pictures) and macros', () => {
    expect(OFFICE_SETTINGS).toEqual(
      expect.arrayContaining([
        { path: '/org.openoffice.Office.Common/Security/Scripting', name: 'BlockUntrustedRefererLinks', value: true },
        { path: '/org.openoffice.Office.Common/Security/Scripting', name: 'DisableMacrosExecution', value: true },
      ]),
    );
  });

  it('are written as a registrymodifications.xcu that fuses each value', () => {
    const xcu = registryModifications([
      { path: '/org.openoffice.Office.Common/Security/Scripting', name: 'BlockUntrustedRefererLinks', value: true },
    ]);
    expect(xcu).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<oor:items xmlns:oor="http:\/\/openoffice.org\/2001\/registry"/,
    );
    expect(xcu).toContain(
      '<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>',
    );
    expect(xcu.trimEnd().endsWith('</oor:items>')).toBe(true);
  });
});
