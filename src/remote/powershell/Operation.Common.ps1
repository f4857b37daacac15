# Shared by every target-side operation and by the session host: argument decoding, JSON output and
# error objects. Runs unchanged under Windows PowerShell 5.1 and PowerShell 7.
#
# JSON is read and written by the small functions below rather than ConvertFrom-Json/ConvertTo-Json:
# Windows PowerShell 5.1's ConvertTo-Json cuts objects at depth 2, writes dates as "\/Date(...)\/" and
# wraps some arrays as {"value":[...],"Count":n}, and PowerShell 7's ConvertFrom-Json turns strings
# that look like dates into DateTime values. Output is pure ASCII (everything else is \u-escaped), so
# no console code page between the target and the orchestrator can alter it.

function New-OperationException {
    # An exception whose "type" in the error object is a stable name the orchestrator can match on.
    param(
        [Parameter(Mandatory = $true)][string]$Type,
        [Parameter(Mandatory = $true)][string]$Message
    )
    $exception = New-Object -TypeName System.InvalidOperationException -ArgumentList $Message
    $exception.Data['OperationErrorType'] = $Type
    return $exception
}

function Add-OperationJsonString {
    param(
        [Parameter(Mandatory = $true)][System.Text.StringBuilder]$Builder,
        [Parameter(Mandatory = $true)][AllowEmptyString()][string]$Text
    )
    $escaped = [regex]::Replace($Text, '[\x00-\x1f"\\\x7f-\uffff]', [System.Text.RegularExpressions.MatchEvaluator] {
            param($match)
            $code = [int]$match.Value[0]
            if ($code -eq 0x22) { return '\"' }
            if ($code -eq 0x5c) { return '\\' }
            if ($code -eq 0x0a) { return '\n' }
            if ($code -eq 0x0d) { return '\r' }
            if ($code -eq 0x09) { return '\t' }
            return ('\u{0:x4}' -f $code)
        })
    [void]$Builder.Append('"').Append($escaped).Append('"')
}

function Add-OperationJsonNumber {
    param(
        [Parameter(Mandatory = $true)][System.Text.StringBuilder]$Builder,
        [Parameter(Mandatory = $true)][double]$Number
    )
    if ([double]::IsNaN($Number) -or [double]::IsInfinity($Number)) {
        [void]$Builder.Append('null')
        return
    }
    $invariant = [System.Globalization.CultureInfo]::InvariantCulture
    # "R" does not round-trip every double on .NET Framework; G17 always does, at the cost of length.
    $text = $Number.ToString('R', $invariant)
    if ([double]::Parse($text, $invariant) -ne $Number) { $text = $Number.ToString('G17', $invariant) }
    [void]$Builder.Append($text)
}

function Add-OperationJsonValue {
    param(
        [Parameter(Mandatory = $true)][System.Text.StringBuilder]$Builder,
        [AllowNull()][object]$Value,
        [int]$Depth = 0
    )
    if ($Depth -gt 64) { throw (New-OperationException -Type 'JsonTooDeep' -Message 'the value nests more than 64 levels deep') }
    if ($null -eq $Value -or $Value -is [System.DBNull]) {
        [void]$Builder.Append('null')
        return
    }
    if ($Value -is [System.Enum]) {
        Add-OperationJsonString -Builder $Builder -Text $Value.ToString()
        return
    }
    $invariant = [System.Globalization.CultureInfo]::InvariantCulture
    $typeCode = [int][System.Type]::GetTypeCode($Value.GetType())
    # TypeCode: 3 Boolean, 4 Char, 5-12 integers, 13 Single, 14 Double, 15 Decimal, 16 DateTime, 18 String.
    if ($typeCode -eq 3) {
        if ($Value) { [void]$Builder.Append('true') } else { [void]$Builder.Append('false') }
        return
    }
    if ($typeCode -eq 4 -or $typeCode -eq 18) {
        Add-OperationJsonString -Builder $Builder -Text ([string]$Value)
        return
    }
    if ($typeCode -ge 5 -and $typeCode -le 12) {
        [void]$Builder.Append($Value.ToString($invariant))
        return
    }
    if ($typeCode -eq 13 -or $typeCode -eq 14) {
        Add-OperationJsonNumber -Builder $Builder -Number ([double]$Value)
        return
    }
    if ($typeCode -eq 15) {
        [void]$Builder.Append($Value.ToString($invariant))
        return
    }
    if ($typeCode -eq 16) {
        Add-OperationJsonString -Builder $Builder -Text (ConvertTo-UtcTimestamp -Time $Value)
        return
    }
    if ($Value -is [System.Collections.IDictionary]) {
        [void]$Builder.Append('{')
        $first = $true
        foreach ($entry in $Value.GetEnumerator()) {
            if (-not $first) { [void]$Builder.Append(',') }
            $first = $false
            Add-OperationJsonString -Builder $Builder -Text ([string]$entry.Key)
            [void]$Builder.Append(':')
            Add-OperationJsonValue -Builder $Builder -Value $entry.Value -Depth ($Depth + 1)
        }
        [void]$Builder.Append('}')
        return
    }
    if ($Value -is [System.Management.Automation.PSCustomObject]) {
        [void]$Builder.Append('{')
        $first = $true
        foreach ($property in $Value.PSObject.Properties) {
            if (-not $first) { [void]$Builder.Append(',') }
            $first = $false
            Add-OperationJsonString -Builder $Builder -Text $property.Name
            [void]$Builder.Append(':')
            Add-OperationJsonValue -Builder $Builder -Value $property.Value -Depth ($Depth + 1)
        }
        [void]$Builder.Append('}')
        return
    }
    if ($Value -is [System.Collections.IEnumerable]) {
        [void]$Builder.Append('[')
        $first = $true
        foreach ($item in $Value) {
            if (-not $first) { [void]$Builder.Append(',') }
            $first = $false
            Add-OperationJsonValue -Builder $Builder -Value $item -Depth ($Depth + 1)
        }
        [void]$Builder.Append(']')
        return
    }
    Add-OperationJsonString -Builder $Builder -Text ([string]$Value)
}

function ConvertTo-OperationJson {
    # One line of ASCII JSON for any value built from dictionaries, arrays, strings, numbers and booleans.
    param([AllowNull()][object]$Value)
    $builder = New-Object -TypeName System.Text.StringBuilder
    Add-OperationJsonValue -Builder $builder -Value $Value -Depth 0
    return $builder.ToString()
}

function ConvertTo-UtcTimestamp {
    # ISO-8601 UTC with milliseconds, the form the orchestrator stores.
    param([Parameter(Mandatory = $true)][datetime]$Time)
    return $Time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", [System.Globalization.CultureInfo]::InvariantCulture)
}

function ConvertFrom-UtcTimestamp {
    param([Parameter(Mandatory = $true)][string]$Timestamp)
    $styles = [System.Globalization.DateTimeStyles]::AdjustToUniversal -bor [System.Globalization.DateTimeStyles]::AssumeUniversal
    return [datetime]::Parse($Timestamp, [System.Globalization.CultureInfo]::InvariantCulture, $styles)
}

function Read-OperationJsonToken {
    param([Parameter(Mandatory = $true)][hashtable]$State)
    if ($State.Index -ge $State.Tokens.Count) {
        throw (New-OperationException -Type 'InvalidJson' -Message 'unexpected end of JSON')
    }
    $token = $State.Tokens[$State.Index]
    $State.Index = $State.Index + 1
    return $token
}

function ConvertFrom-OperationJsonString {
    param([Parameter(Mandatory = $true)][string]$Literal)
    $inner = $Literal.Substring(1, $Literal.Length - 2)
    if ($inner.IndexOf('\') -lt 0) { return $inner }
    return [regex]::Replace($inner, '\\(?:u([0-9a-fA-F]{4})|(.))', [System.Text.RegularExpressions.MatchEvaluator] {
            param($match)
            if ($match.Groups[1].Success) { return [string][char][System.Convert]::ToInt32($match.Groups[1].Value, 16) }
            $escape = $match.Groups[2].Value
            if ($escape -ceq 'n') { return "`n" }
            if ($escape -ceq 'r') { return "`r" }
            if ($escape -ceq 't') { return "`t" }
            if ($escape -ceq 'b') { return [string][char]8 }
            if ($escape -ceq 'f') { return [string][char]12 }
            return $escape
        })
}

function Read-OperationJsonValue {
    param([Parameter(Mandatory = $true)][hashtable]$State)
    $token = Read-OperationJsonToken -State $State
    if ($token.Groups[1].Success) { return (ConvertFrom-OperationJsonString -Literal $token.Groups[1].Value) }
    if ($token.Groups[2].Success) {
        $text = $token.Groups[2].Value
        $invariant = [System.Globalization.CultureInfo]::InvariantCulture
        $integer = [long]0
        if ($text -match '^-?[0-9]+$' -and [long]::TryParse($text, [System.Globalization.NumberStyles]::AllowLeadingSign, $invariant, [ref]$integer)) {
            return $integer
        }
        return [double]::Parse($text, [System.Globalization.NumberStyles]::Float, $invariant)
    }
    if ($token.Groups[3].Success) {
        $literal = $token.Groups[3].Value
        if ($literal -ceq 'true') { return $true }
        if ($literal -ceq 'false') { return $false }
        return $null
    }
    $punctuation = $token.Groups[4].Value
    if ($punctuation -eq '{') {
        $object = [ordered]@{}
        if ($State.Index -lt $State.Tokens.Count -and $State.Tokens[$State.Index].Groups[4].Value -eq '}') {
            $State.Index = $State.Index + 1
            return $object
        }
        while ($true) {
            $keyToken = Read-OperationJsonToken -State $State
            if (-not $keyToken.Groups[1].Success) { throw (New-OperationException -Type 'InvalidJson' -Message 'expected a property name in JSON') }
            $key = ConvertFrom-OperationJsonString -Literal $keyToken.Groups[1].Value
            if ((Read-OperationJsonToken -State $State).Groups[4].Value -ne ':') { throw (New-OperationException -Type 'InvalidJson' -Message 'expected ":" in JSON') }
            $object[$key] = Read-OperationJsonValue -State $State
            $separator = (Read-OperationJsonToken -State $State).Groups[4].Value
            if ($separator -eq '}') { return $object }
            if ($separator -ne ',') { throw (New-OperationException -Type 'InvalidJson' -Message 'expected "," or "}" in JSON') }
        }
    }
    if ($punctuation -eq '[') {
        $items = New-Object -TypeName 'System.Collections.Generic.List[object]'
        if ($State.Index -lt $State.Tokens.Count -and $State.Tokens[$State.Index].Groups[4].Value -eq ']') {
            $State.Index = $State.Index + 1
            return , $items.ToArray()
        }
        while ($true) {
            $items.Add((Read-OperationJsonValue -State $State))
            $separator = (Read-OperationJsonToken -State $State).Groups[4].Value
            if ($separator -eq ']') { return , $items.ToArray() }
            if ($separator -ne ',') { throw (New-OperationException -Type 'InvalidJson' -Message 'expected "," or "]" in JSON') }
        }
    }
    throw (New-OperationException -Type 'InvalidJson' -Message ('unexpected "{0}" in JSON' -f $punctuation))
}

function ConvertFrom-OperationJson {
    # JSON objects become ordered dictionaries, arrays object[], numbers Int64 or Double; strings stay strings.
    param([Parameter(Mandatory = $true)][AllowEmptyString()][string]$Json)
    $tokenPattern = '\G\s*(?:("(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*")|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)|(true|false|null)|([{}\[\]:,]))'
    $tokens = [regex]::Matches($Json, $tokenPattern)
    $consumed = 0
    if ($tokens.Count -gt 0) {
        $last = $tokens[$tokens.Count - 1]
        $consumed = $last.Index + $last.Length
    }
    if ($tokens.Count -eq 0 -or $Json.Substring($consumed).Trim().Length -gt 0) {
        throw (New-OperationException -Type 'InvalidJson' -Message ('invalid JSON at character {0}' -f $consumed))
    }
    $state = @{ Tokens = $tokens; Index = 0 }
    $value = Read-OperationJsonValue -State $state
    if ($state.Index -ne $tokens.Count) {
        throw (New-OperationException -Type 'InvalidJson' -Message 'unexpected content after the JSON value')
    }
    return , $value
}

function ConvertFrom-OperationArgument {
    # The orchestrator passes one JSON object, UTF-8 encoded and then base64, so that no character of
    # any value can be read as PowerShell code or be changed by a console code page.
    param([Parameter(Mandatory = $true)][AllowEmptyString()][string]$EncodedArguments)
    if ([string]::IsNullOrWhiteSpace($EncodedArguments)) {
        throw (New-OperationException -Type 'InvalidArguments' -Message 'the operation received no arguments')
    }
    try {
        $bytes = [System.Convert]::FromBase64String($EncodedArguments.Trim())
        $strictUtf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false, $true
        $json = $strictUtf8.GetString($bytes)
    } catch {
        throw (New-OperationException -Type 'InvalidArguments' -Message ('the arguments are not base64 of UTF-8 text: {0}' -f $_.Exception.GetBaseException().Message))
    }
    $arguments = ConvertFrom-OperationJson -Json $json
    if (-not ($arguments -is [System.Collections.IDictionary])) {
        throw (New-OperationException -Type 'InvalidArguments' -Message 'the arguments must be one JSON object')
    }
    return $arguments
}

function Get-OperationArgument {
    # One named argument; a missing required one is an InvalidArguments error naming it.
    param(
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments,
        [Parameter(Mandatory = $true)][string]$Name,
        [switch]$Optional,
        [AllowNull()][object]$Default = $null
    )
    if ($Arguments.Contains($Name) -and $null -ne $Arguments[$Name]) { return , $Arguments[$Name] }
    if ($Optional) { return , $Default }
    throw (New-OperationException -Type 'InvalidArguments' -Message ('missing argument "{0}"' -f $Name))
}

function Assert-PlainFileName {
    # Names that become paths on the target must not climb out of the folder they are meant for.
    param(
        [Parameter(Mandatory = $true)][string]$Name,
        [Parameter(Mandatory = $true)][string]$What
    )
    if ($Name -notmatch '^[A-Za-z0-9][A-Za-z0-9._ ()+-]{0,199}$' -or $Name.Contains('..')) {
        throw (New-OperationException -Type 'InvalidArguments' -Message ('{0} "{1}" is not a plain file name' -f $What, $Name))
    }
}

function New-OperationError {
    # The error object of the operation's JSON: message, a type to match on, and where it was raised.
    param([Parameter(Mandatory = $true)][System.Management.Automation.ErrorRecord]$ErrorRecord)
    $exception = $ErrorRecord.Exception
    # PowerShell wraps .NET failures (a method call, a division) in exceptions of its own.
    while ($null -ne $exception.InnerException -and ($exception -is [System.Management.Automation.MethodInvocationException] -or
            $exception.GetType() -eq [System.Management.Automation.RuntimeException])) {
        $exception = $exception.InnerException
    }
    $type = $exception.GetType().FullName
    if ($exception.Data.Contains('OperationErrorType')) { $type = [string]$exception.Data['OperationErrorType'] }
    $position = $null
    $invocation = $ErrorRecord.InvocationInfo
    if ($null -ne $invocation -and $invocation.ScriptLineNumber -gt 0) {
        $line = ''
        if ($null -ne $invocation.Line) { $line = $invocation.Line.Trim() }
        $position = ('line {0}: {1}' -f $invocation.ScriptLineNumber, $line)
    }
    return [ordered]@{ message = $exception.Message; type = $type; position = $position }
}

function Invoke-Operation {
    # Runs one operation and returns exactly one line of JSON, whatever happens inside it:
    # {"ok":true,"result":{...}} or {"ok":false,"error":{"message":...,"type":...,"position":...}}.
    param(
        [Parameter(Mandatory = $true)][AllowEmptyString()][string]$EncodedArguments,
        [Parameter(Mandatory = $true)][string]$EntryPoint
    )
    Set-StrictMode -Version 2.0
    $ErrorActionPreference = 'Stop'
    # Progress, warnings and information would reach stdout beside the JSON under a console host.
    $ProgressPreference = 'SilentlyContinue'
    $WarningPreference = 'SilentlyContinue'
    $InformationPreference = 'SilentlyContinue'
    $VerbosePreference = 'SilentlyContinue'
    try {
        $arguments = ConvertFrom-OperationArgument -EncodedArguments $EncodedArguments
        $output = @(& $EntryPoint -Arguments $arguments)
        if ($output.Count -ne 1 -or -not ($output[0] -is [System.Collections.IDictionary])) {
            throw (New-OperationException -Type 'OperationOutput' -Message ('{0} produced {1} output objects instead of one result' -f $EntryPoint, $output.Count))
        }
        $envelope = [ordered]@{ ok = $true; result = $output[0] }
    } catch {
        $envelope = [ordered]@{ ok = $false; error = (New-OperationError -ErrorRecord $_) }
    }
    try {
        return (ConvertTo-OperationJson -Value $envelope)
    } catch {
        # A result that cannot be written as JSON is reported as an error, still as one line of JSON.
        $failure = [ordered]@{ message = 'the result could not be written as JSON: ' + $_.Exception.Message; type = 'OperationOutput'; position = $null }
        return (ConvertTo-OperationJson -Value ([ordered]@{ ok = $false; error = $failure }))
    }
}
