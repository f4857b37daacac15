BeforeAll {
    . (Join-Path $PSScriptRoot '../../src/remote/powershell/Operation.Common.ps1')

    function ConvertTo-TestArgument {
        param([Parameter(Mandatory = $true)][string]$Json)
        return [System.Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes($Json))
    }

    function Invoke-TestEchoOperation {
        param([System.Collections.IDictionary]$Arguments)
        return [ordered]@{ received = $Arguments['value'] }
    }

    function Invoke-TestFailingOperation {
        param([System.Collections.IDictionary]$Arguments)
        throw (New-OperationException -Type 'FileNotFound' -Message 'the installer "C:\x.exe" is not on the host')
    }

    function Invoke-TestLeakingOperation {
        param([System.Collections.IDictionary]$Arguments)
        'a stray line'
        return [ordered]@{ fine = $true }
    }
}

Describe 'ConvertTo-OperationJson' {
    It 'writes nested dictionaries, arrays and scalars as one line of JSON' {
        $value = [ordered]@{
            text    = 'plain'
            number  = 42
            big     = [long]9007199254740993
            decimal = 1.5
            yes     = $true
            nothing = $null
            empty   = @()
            one     = @('only')
            nested  = [ordered]@{ list = @(1, @(2, 3), [ordered]@{ deep = 'x' }) }
        }
        $json = ConvertTo-OperationJson -Value $value
        $json | Should -Be '{"text":"plain","number":42,"big":9007199254740993,"decimal":1.5,"yes":true,"nothing":null,"empty":[],"one":["only"],"nested":{"list":[1,[2,3],{"deep":"x"}]}}'
    }

    It 'escapes quotes, backslashes, control characters and everything outside ASCII' {
        $text = 'say "hi"\ ' + "tab`tline`nreturn`r" + [char]0x01 + [char]0xE9 + [char]0xD83D + [char]0xDE00
        $json = ConvertTo-OperationJson -Value $text
        $json | Should -Be '"say \"hi\"\\ tab\tline\nreturn\r\u0001\u00e9\ud83d\ude00"'
        $json | Should -Match '^[\x20-\x7e]+$'
    }

    It 'writes dates as ISO-8601 UTC with milliseconds, enums as names, NaN as null' {
        $when = [datetime]::new(2025, 1, 14, 9, 30, 12, 345, [System.DateTimeKind]::Utc)
        ConvertTo-OperationJson -Value $when | Should -Be '"2025-01-14T09:30:12.345Z"'
        ConvertTo-OperationJson -Value ([System.IO.FileAccess]::Read) | Should -Be '"Read"'
        ConvertTo-OperationJson -Value ([double]::NaN) | Should -Be 'null'
        ConvertTo-OperationJson -Value 0.1 | Should -Be '0.1'
    }

    It 'writes the properties of custom objects' {
        ConvertTo-OperationJson -Value ([pscustomobject]@{ a = 1 }) | Should -Be '{"a":1}'
    }
}

Describe 'ConvertFrom-OperationJson' {
    It 'reads objects as ordered dictionaries and keeps empty and nested arrays' {
        $value = ConvertFrom-OperationJson -Json '{"a":[1,[],[2],{"b":null}],"e":{},"n":-1.5e3,"t":true,"f":false}'
        $value | Should -BeOfType [System.Collections.Specialized.OrderedDictionary]
        $value['a'].Count | Should -Be 4
        , $value['a'][1] | Should -BeOfType [object[]]
        $value['a'][1].Count | Should -Be 0
        $value['a'][2][0] | Should -Be 2
        $value['a'][3]['b'] | Should -BeNullOrEmpty
        $value['n'] | Should -Be -1500
        $value['t'] | Should -BeTrue
        $value['f'] | Should -BeFalse
    }

    It 'keeps strings that look like dates as strings' {
        $value = ConvertFrom-OperationJson -Json '{"when":"2025-01-14T09:30:12Z"}'
        $value['when'] | Should -BeOfType [string]
        $value['when'] | Should -Be '2025-01-14T09:30:12Z'
    }

    It 'decodes every escape' {
        $value = ConvertFrom-OperationJson -Json '"q\" b\\ s\/ \b\f\n\r\t \u00e9 \ud83d\ude00"'
        $value | Should -Be ('q" b\ s/ ' + [char]8 + [char]12 + "`n`r`t " + [char]0xE9 + ' ' + [char]0xD83D + [char]0xDE00)
    }

    It 'reads integers as Int64 and others as Double' {
        (ConvertFrom-OperationJson -Json '9007199254740993') | Should -BeOfType [long]
        (ConvertFrom-OperationJson -Json '2.5') | Should -BeOfType [double]
    }

    It 'rejects <json>' -ForEach @(
        @{ json = '' }, @{ json = '{' }, @{ json = '{"a":1,}' }, @{ json = '[1 2]' }, @{ json = '{"a":1} x' }, @{ json = "{'a':1}" }, @{ json = '"raw' + "`n" + 'newline"' }
    ) {
        { ConvertFrom-OperationJson -Json $json } | Should -Throw
    }

    It 'round-trips what ConvertTo-OperationJson writes' {
        $json = '{"path":"C:\\Program Files\\x.exe","args":"/q /Action=Patch \"a b\"","list":[1,"two",null,[]],"unicode":"\u00fc\u4e2d"}'
        ConvertTo-OperationJson -Value (ConvertFrom-OperationJson -Json $json) | Should -Be $json
    }
}

Describe 'ConvertFrom-OperationArgument' {
    It 'decodes base64 of UTF-8 JSON without reading any of it as code' {
        $json = '{"value":"$(Remove-Item C:\\) `; ''quote'' \"dq\" \u00e9"}'
        $arguments = ConvertFrom-OperationArgument -EncodedArguments (ConvertTo-TestArgument -Json $json)
        $arguments['value'] | Should -Be ('$(Remove-Item C:\) `; ''quote'' "dq" ' + [char]0xE9)
    }

    It 'rejects <case>' -ForEach @(
        @{ case = 'nothing'; encoded = '' }
        @{ case = 'text that is not base64'; encoded = '!!not base64!!' }
        @{ case = 'a JSON array'; encoded = [System.Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes('[1]')) }
        @{ case = 'invalid UTF-8'; encoded = [System.Convert]::ToBase64String([byte[]](0x7b, 0xff, 0x7d)) }
    ) {
        $failure = $null
        try { ConvertFrom-OperationArgument -EncodedArguments $encoded } catch { $failure = $_ }
        $failure | Should -Not -BeNullOrEmpty
        $failure.Exception.Data['OperationErrorType'] | Should -BeIn @('InvalidArguments', 'InvalidJson')
    }

    It 'names a missing required argument' {
        { Get-OperationArgument -Arguments ([ordered]@{}) -Name 'stagingDir' } | Should -Throw '*"stagingDir"*'
        Get-OperationArgument -Arguments ([ordered]@{}) -Name 'x' -Optional -Default 5 | Should -Be 5
    }
}

Describe 'Invoke-Operation' {
    It 'prints exactly one JSON line with ok and the result' {
        $output = @(Invoke-Operation -EncodedArguments (ConvertTo-TestArgument -Json '{"value":[1,"a"]}') -EntryPoint 'Invoke-TestEchoOperation')
        $output.Count | Should -Be 1
        $output[0] | Should -Be '{"ok":true,"result":{"received":[1,"a"]}}'
    }

    It 'prints an error object with message, type and position when the operation throws' {
        $output = @(Invoke-Operation -EncodedArguments (ConvertTo-TestArgument -Json '{}') -EntryPoint 'Invoke-TestFailingOperation')
        $output.Count | Should -Be 1
        $envelope = ConvertFrom-OperationJson -Json $output[0]
        $envelope['ok'] | Should -BeFalse
        $envelope['error']['message'] | Should -Be 'the installer "C:\x.exe" is not on the host'
        $envelope['error']['type'] | Should -Be 'FileNotFound'
        $envelope['error']['position'] | Should -Match '^line \d+: '
    }

    It 'reports a .NET exception by its type' {
        function Invoke-TestDivision {
            param($Arguments)
            $zero = 0
            return [ordered]@{ x = 1 / $zero }
        }
        $envelope = ConvertFrom-OperationJson -Json (Invoke-Operation -EncodedArguments (ConvertTo-TestArgument -Json '{}') -EntryPoint 'Invoke-TestDivision')
        $envelope['error']['type'] | Should -Be 'System.DivideByZeroException'
    }

    It 'turns stray output of an operation into an error rather than a second object' {
        $output = @(Invoke-Operation -EncodedArguments (ConvertTo-TestArgument -Json '{}') -EntryPoint 'Invoke-TestLeakingOperation')
        $output.Count | Should -Be 1
        (ConvertFrom-OperationJson -Json $output[0])['error']['type'] | Should -Be 'OperationOutput'
    }

    It 'reports a result that cannot be written as JSON as an error object' {
        function Invoke-TestTooDeep {
            param($Arguments)
            $value = 'bottom'
            for ($level = 0; $level -lt 70; $level++) { $value = [ordered]@{ inner = $value } }
            return $value
        }
        $output = @(Invoke-Operation -EncodedArguments (ConvertTo-TestArgument -Json '{}') -EntryPoint 'Invoke-TestTooDeep')
        $output.Count | Should -Be 1
        $envelope = ConvertFrom-OperationJson -Json $output[0]
        $envelope['error']['type'] | Should -Be 'OperationOutput'
        $envelope['error']['message'] | Should -BeLike 'the result could not be written as JSON: *64 levels*'
    }

    It 'reports undecodable arguments as an error object' {
        $envelope = ConvertFrom-OperationJson -Json (Invoke-Operation -EncodedArguments '%%%' -EntryPoint 'Invoke-TestEchoOperation')
        $envelope['ok'] | Should -BeFalse
        $envelope['error']['type'] | Should -Be 'InvalidArguments'
    }
}
