import packageJson from '../../package.json'

/**
 * The `lifeboat` command's entry (bundled as dist/node/lifeboat.js). It imports nothing heavy itself: `--version`
 * answers at once, and every other command loads the command table (main.ts), which in turn loads the engine and
 * its libraries (SSH, S3, XAPI, mail) only when a command asks for the engine. A cron job or a script that starts
 * `lifeboat` often should not pay for libraries it does not use.
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === 'version')) {
    process.stdout.write(`${packageJson.version}\n`)
    return
  }
  // Before the command table and the engine load: a local repository's key derivation runs while they do.
  await (await import('./prefetch-key')).prefetchRepositoryKey(argv)
  const cli = await import('./main')
  await cli.main()
}
