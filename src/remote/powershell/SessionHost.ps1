# Runs on the admin machine, one process per target host: holds that host's single PSSession and
# carries out the orchestrator's requests against it, one at a time.
#
# Requests arrive on stdin, one per line, each base64 of UTF-8 JSON (so that no console code page
# alters them, and a credential never appears on a command line):
#   {"id":1,"kind":"connect","computerName":"SQL1","port":5986,"useSsl":true,"authentication":"Kerberos",
#    "skipCaCheck":false,"skipCnCheck":false,"openTimeoutMs":30000,"credential":{"userName":...,"password":...},"local":false}
#   {"id":2,"kind":"invoke","scriptBase64":"...","argumentsBase64":"..."}
#   {"id":3,"kind":"copy","localPath":"C:\\hotfixes\\x.exe","remotePath":"C:\\Windows\\Temp\\AutoDBAudit\\x.exe"}
#   {"id":4,"kind":"close"}
# Each answer is one stdout line, "<frame token> <JSON>", with {"id":n,"ok":true,...} or
# {"id":n,"ok":false,"error":{...},"sessionState":"Broken"}. Anything else on stdout lacks the token
# and is ignored by the orchestrator.
# "local": true runs the operations in this process instead of a PSSession (the admin machine itself).
# Windows PowerShell 5.1 compatible.

function Write-SessionHostAnswer {
    param(
        [Parameter(Mandatory = $true)][string]$FrameToken,
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Answer
    )
    [Console]::Out.WriteLine($FrameToken + ' ' + (ConvertTo-OperationJson -Value $Answer))
    [Console]::Out.Flush()
}

function New-RemotingCredential {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Credential)
    $secret = New-Object -TypeName System.Security.SecureString
    foreach ($character in ([string]$Credential['password']).ToCharArray()) { $secret.AppendChar($character) }
    $secret.MakeReadOnly()
    return (New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList ([string]$Credential['userName']), $secret)
}

function Open-RemotingSession {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Request)
    $optionParameters = @{}
    # PowerShell on Linux and macOS offers only the certificate switches of New-PSSessionOption.
    if ((Get-Command -Name New-PSSessionOption).Parameters.ContainsKey('OpenTimeout')) {
        $optionParameters['OpenTimeout'] = [int](Get-OperationArgument -Arguments $Request -Name 'openTimeoutMs' -Optional -Default 30000)
    }
    if ([bool](Get-OperationArgument -Arguments $Request -Name 'skipCaCheck' -Optional -Default $false)) { $optionParameters['SkipCACheck'] = $true }
    if ([bool](Get-OperationArgument -Arguments $Request -Name 'skipCnCheck' -Optional -Default $false)) { $optionParameters['SkipCNCheck'] = $true }
    $sessionParameters = @{
        ComputerName   = [string](Get-OperationArgument -Arguments $Request -Name 'computerName')
        Authentication = [string](Get-OperationArgument -Arguments $Request -Name 'authentication' -Optional -Default 'Kerberos')
        SessionOption  = New-PSSessionOption @optionParameters
        ErrorAction    = 'Stop'
    }
    $port = Get-OperationArgument -Arguments $Request -Name 'port' -Optional
    if ($null -ne $port) { $sessionParameters['Port'] = [int]$port }
    if ([bool](Get-OperationArgument -Arguments $Request -Name 'useSsl' -Optional -Default $false)) { $sessionParameters['UseSSL'] = $true }
    $credential = Get-OperationArgument -Arguments $Request -Name 'credential' -Optional
    if ($null -ne $credential) { $sessionParameters['Credential'] = New-RemotingCredential -Credential $credential }
    return (New-PSSession @sessionParameters)
}

function Invoke-SessionHostRequest {
    param(
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Request,
        [Parameter(Mandatory = $true)][hashtable]$Context
    )
    $kind = [string](Get-OperationArgument -Arguments $Request -Name 'kind')
    if ($kind -eq 'connect') {
        $Context.Local = [bool](Get-OperationArgument -Arguments $Request -Name 'local' -Optional -Default $false)
        if (-not $Context.Local) { $Context.Session = Open-RemotingSession -Request $Request }
        return [ordered]@{}
    }
    if ($kind -eq 'close') {
        if ($null -ne $Context.Session) { Remove-PSSession -Session $Context.Session -ErrorAction SilentlyContinue }
        $Context.Session = $null
        $Context.Closing = $true
        return [ordered]@{}
    }
    if (-not $Context.Local -and $null -eq $Context.Session) {
        throw (New-OperationException -Type 'NotConnected' -Message 'no session: connect first')
    }
    if ($kind -eq 'invoke') {
        $scriptText = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String([string](Get-OperationArgument -Arguments $Request -Name 'scriptBase64')))
        $argumentsBase64 = [string](Get-OperationArgument -Arguments $Request -Name 'argumentsBase64')
        $operation = [scriptblock]::Create($scriptText)
        if ($Context.Local) {
            $output = @(& $operation $argumentsBase64)
        } else {
            $output = @(Invoke-Command -Session $Context.Session -ScriptBlock $operation -ArgumentList $argumentsBase64 -ErrorAction Stop)
        }
        $lines = New-Object -TypeName 'System.Collections.Generic.List[string]'
        foreach ($item in $output) { $lines.Add([string]$item) }
        return [ordered]@{ output = ($lines.ToArray() -join "`n") }
    }
    if ($kind -eq 'copy') {
        $localPath = [string](Get-OperationArgument -Arguments $Request -Name 'localPath')
        $remotePath = [string](Get-OperationArgument -Arguments $Request -Name 'remotePath')
        if ($Context.Local) {
            Copy-Item -LiteralPath $localPath -Destination $remotePath -Force
        } else {
            Copy-Item -LiteralPath $localPath -Destination $remotePath -ToSession $Context.Session -Force
        }
        return [ordered]@{}
    }
    throw (New-OperationException -Type 'InvalidRequest' -Message ('unknown request kind "{0}"' -f $kind))
}

function Invoke-SessionHost {
    param([Parameter(Mandatory = $true)][string]$EncodedArguments)
    $ErrorActionPreference = 'Stop'
    $ProgressPreference = 'SilentlyContinue'
    $WarningPreference = 'SilentlyContinue'
    $InformationPreference = 'SilentlyContinue'
    $VerbosePreference = 'SilentlyContinue'
    $settings = ConvertFrom-OperationArgument -EncodedArguments $EncodedArguments
    $frameToken = [string](Get-OperationArgument -Arguments $settings -Name 'frameToken')
    $context = @{ Session = $null; Local = $false; Closing = $false }
    Write-SessionHostAnswer -FrameToken $frameToken -Answer ([ordered]@{ id = 0; ok = $true; ready = $true })
    while (-not $context.Closing) {
        $line = [Console]::In.ReadLine()
        # End of input: the orchestrator is gone, so release the remote session and leave.
        if ($null -eq $line) { break }
        if ([string]::IsNullOrWhiteSpace($line)) { continue }
        $id = $null
        try {
            $request = ConvertFrom-OperationArgument -EncodedArguments $line
            $id = Get-OperationArgument -Arguments $request -Name 'id' -Optional
            $answer = [ordered]@{ id = $id; ok = $true }
            $result = Invoke-SessionHostRequest -Request $request -Context $context
            foreach ($entry in $result.GetEnumerator()) { $answer[$entry.Key] = $entry.Value }
        } catch {
            $sessionState = $null
            if ($null -ne $context.Session) { $sessionState = [string]$context.Session.State }
            $answer = [ordered]@{ id = $id; ok = $false; error = (New-OperationError -ErrorRecord $_); sessionState = $sessionState }
        }
        Write-SessionHostAnswer -FrameToken $frameToken -Answer $answer
    }
    if ($null -ne $context.Session) { Remove-PSSession -Session $context.Session -ErrorAction SilentlyContinue }
}
