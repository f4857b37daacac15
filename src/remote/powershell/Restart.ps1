# Operation "restart": asks Windows to restart this host now, as a planned restart for a hot fix
# (reason p:2:17), with a comment naming the run, and returns the boot time from before the request.
# A restart already under way is not started again. Windows PowerShell 5.1 compatible.

# shutdown.exe exit codes that mean a shutdown is already under way: ERROR_SHUTDOWN_IN_PROGRESS,
# ERROR_SHUTDOWN_IS_SCHEDULED.
$script:RestartAlreadyUnderWay = @(1115, 1190)
# Windows keeps at most 512 characters of a shutdown comment.
$script:RestartCommentLimit = 500

function Invoke-RestartOperation {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $comment = [string](Get-OperationArgument -Arguments $Arguments -Name 'comment')
    if ($comment.Length -gt $script:RestartCommentLimit) { $comment = $comment.Substring(0, $script:RestartCommentLimit) }
    $bootTime = Get-LastBootTime
    $exitCode = [int](Invoke-HostRestart -Comment $comment)
    $alreadyUnderWay = $script:RestartAlreadyUnderWay -contains $exitCode
    if ($exitCode -ne 0 -and -not $alreadyUnderWay) {
        throw (New-OperationException -Type 'RestartRefused' -Message ('Windows refused the restart: shutdown /r exited {0}' -f $exitCode))
    }
    return [ordered]@{ bootTime = $bootTime; alreadyUnderWay = $alreadyUnderWay }
}
