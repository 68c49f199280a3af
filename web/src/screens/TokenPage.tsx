// The page shown without a working access token: what happened and what to do. The token was already
// taken out of the address bar (api.ts takeToken), a wrong one included.
export function TokenPage ({ reason }: { reason: 'missing' | 'refused' }): React.JSX.Element {
  return (
    <main className='center narrow'>
      <h1>0message1</h1>
      {reason === 'missing'
        ? (
          <p data-testid='no-token' data-reason='missing'>
            This page needs the address that <code>0message1 start</code> printed (it carries the access token). Open that address again.
          </p>
          )
        : (
          <p data-testid='no-token' data-reason='refused'>
            Your node did not accept this page's access token. Each start of the node makes a new one, so an address from
            an earlier start, or one cut short when copied, does not work. Open the Web UI address that <code>0message1 start</code> printed
            most recently, in full.
          </p>
          )}
      <p className='muted'>The token is kept out of the address bar, so it is not bookmarked or shared by mistake.</p>
    </main>
  )
}
