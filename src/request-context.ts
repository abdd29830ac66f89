/**
 * Who is asking, for whom and why: built once by the auth layer from the
 * verified token and passed down. Nothing downstream of auth reads headers.
 */
export interface RequestContext {
  readonly requestId: string;
  /** 'open-development' until SMART Backend Services authentication lands. */
  readonly authMode: 'open-development' | 'smart';
  readonly clientId?: string;
  readonly organisationOds?: string;
  readonly userId?: string;
  readonly userRole?: string;
  readonly purposeOfUse?: string;
  readonly justification?: string;
}
